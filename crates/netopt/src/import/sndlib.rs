//! sndlib importer (in progress).
