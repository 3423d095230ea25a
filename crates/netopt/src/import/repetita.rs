//! repetita importer (in progress).
