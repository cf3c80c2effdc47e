//! Views that show a member only what Jira lets their account see. When an organization turns
//! this on, every view for a member is limited to the projects their linked Atlassian account
//! may browse, less the issues Jira still hides from it (an issue security level it lacks).
//! Jira answers our app's bulk permission check (`bulk_check`) about the projects and issues
//! the warehouse holds (`warehouse::queries::permission_candidates`); the answer is kept per
//! member for a short time and never stretched past it (`resolver`).

mod bulk_check;
mod metrics;
mod resolver;

pub use bulk_check::{BulkCheck, CheckError, Credentials, Granted};
pub use metrics::VisibilityMetrics;
pub use resolver::{Resolver, VisibilityError};
