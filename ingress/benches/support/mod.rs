//! The benchmark's parts: the processes it runs and measures, the bare baseline it compares
//! ingress with, the load it sends, and the printed report.

pub(crate) mod baseline;
pub(crate) mod load;
pub(crate) mod processes;
pub(crate) mod report;
