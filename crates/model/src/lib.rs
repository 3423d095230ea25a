//! The Doppel twin model.
