//! graphml importer (in progress).
