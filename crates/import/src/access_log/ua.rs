//! What a user agent says about the client: whether it is a bot (crawlers, monitors, scripts
//! and HTTP libraries, by substrings of their published user-agent strings) and its device
//! class (mobile, tablet, desktop).

/// Lower-case substrings that mark an automated client. Crawlers announce themselves with
/// `bot`, `crawl`, `spider` or `slurp`; the rest are monitors, link previewers, headless
/// browsers and HTTP libraries that real browsers never send.
const BOT_MARKERS: [&str; 29] = [
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "mediapartners",
    "bingpreview",
    "headlesschrome",
    "phantomjs",
    "lighthouse",
    "pingdom",
    "uptimerobot",
    "statuscake",
    "kube-probe",
    "site24x7",
    "newrelicpinger",
    "datadog",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "okhttp",
    "java/",
    "apache-httpclient",
    "libwww-perl",
    "node-fetch",
    "axios/",
];

/// True when the user agent is a known automated client, or empty / `-` (browsers always
/// send one).
pub fn is_bot(user_agent: &str) -> bool {
    let ua = user_agent.trim();
    if ua.is_empty() || ua == "-" {
        return true;
    }
    let lower = ua.to_ascii_lowercase();
    BOT_MARKERS.iter().any(|m| lower.contains(m))
}

/// A client's device class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceClass {
    /// Phones.
    Mobile,
    /// Tablets.
    Tablet,
    /// Everything else a person browses with.
    Desktop,
    /// Automated clients ([`is_bot`]).
    Bot,
}

impl DeviceClass {
    /// `mobile`, `tablet`, `desktop` or `bot`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Mobile => "mobile",
            DeviceClass::Tablet => "tablet",
            DeviceClass::Desktop => "desktop",
            DeviceClass::Bot => "bot",
        }
    }
}

/// The device class of a user agent. Tablets first (iPads, and Android without `Mobile`, as
/// Google's guidance for Android user agents states), then phones.
pub fn device_class(user_agent: &str) -> DeviceClass {
    if is_bot(user_agent) {
        return DeviceClass::Bot;
    }
    let lower = user_agent.to_ascii_lowercase();
    if lower.contains("ipad")
        || lower.contains("tablet")
        || lower.contains("kindle")
        || lower.contains("silk/")
        || (lower.contains("android") && !lower.contains("mobile"))
    {
        DeviceClass::Tablet
    } else if lower.contains("mobile")
        || lower.contains("iphone")
        || lower.contains("ipod")
        || lower.contains("windows phone")
        || lower.contains("opera mini")
    {
        DeviceClass::Mobile
    } else {
        DeviceClass::Desktop
    }
}
