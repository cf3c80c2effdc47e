//! The contracts between MetaFrazo's services: the named identities that cross a service
//! boundary ([`ids`]), where an event came from ([`Source`]), and the raw-event envelope ingress
//! produces and the pipeline reads ([`envelope`]). Defined once here, so two services cannot
//! disagree about which id a value is: the warehouse is keyed by [`InstallationId`], and a
//! [`ClientKey`] does not fit where one is wanted.

pub mod envelope;
pub mod ids;
mod source;

pub use envelope::{Envelope, EnvelopeError};
pub use ids::{ClientKey, DeliveryId, IdError, InstallationId, OrganizationId};
pub use source::Source;
