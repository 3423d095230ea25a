//! The errors of this crate: bad series files, bad label or profile files, impossible requests.

/// Everything that can go wrong in `doppel-predict`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PredictError {
    /// A line of a `timestamp,value` file could not be read.
    #[error("line {line}: {message}")]
    Csv {
        /// 1-based line number in the input.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The series has no rows.
    #[error("the series has no rows")]
    Empty,
    /// Timestamps must not go back in time.
    #[error("line {line}: timestamp {timestamp} is before the previous one")]
    NotIncreasing {
        /// 1-based line number in the input.
        line: usize,
        /// The offending timestamp as written.
        timestamp: String,
    },
    /// A labels or profiles JSON document could not be read.
    #[error("{what}: {message}")]
    Json {
        /// Which document.
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// A timestamp could not be parsed.
    #[error("cannot read timestamp {0:?} (expected YYYY-MM-DD HH:MM:SS, ISO 8601 or Unix seconds)")]
    Timestamp(String),
    /// A duration such as `7d` could not be parsed.
    #[error("cannot read duration {0:?} (expected e.g. 90s, 30m, 12h, 7d, 2w)")]
    Duration(String),
    /// Not enough history for what was asked.
    #[error("not enough data: {0}")]
    TooShort(String),
}
