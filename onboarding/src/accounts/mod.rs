//! Account rules that are not storage: passwords.

pub mod passwords;
