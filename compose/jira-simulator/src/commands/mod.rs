//! What each CLI command does, one file per command, on top of the library.

pub(crate) mod install;
pub(crate) mod serve;
pub(crate) mod stream;
pub(crate) mod uninstall;
