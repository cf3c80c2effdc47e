//! The identities that cross a service boundary, one type each, so the compiler keeps them
//! apart.
//!
//! - [`InstallationId`]: MetaFrazo's own id for a connected workspace (the `installations` row's
//!   primary key). It stays when a workspace is reconnected, so it is what the warehouse is keyed
//!   by, what the envelope's Kafka key is, and what every analytical query is scoped by.
//! - [`ClientKey`]: Atlassian's name for the workspace's connection: Connect's `clientKey`,
//!   Forge's `app.installationId`, or an admin webhook connection's id. Ingress looks an incoming
//!   request's installation up by it; nothing is stored or queried by it downstream.
//! - [`DeliveryId`]: one delivery of one event, derived by ingress from the verified body (never
//!   from an unsigned header); with the installation, the key that makes a retried or replayed
//!   delivery count once.
//! - [`OrganizationId`]: a MetaFrazo organization.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} {value:?} is not a UUID")]
    NotUuid { kind: &'static str, value: String },
    #[error("a {0} cannot be empty")]
    Empty(&'static str),
}

/// A UUID-backed id: written as the hyphenated UUID everywhere (Kafka headers and keys,
/// ClickHouse's `String` columns, URLs), read back only from that form.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(value).map(Self).map_err(|_| IdError::NotUuid {
                    kind: $kind,
                    value: value.to_owned(),
                })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0.hyphenated())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "postgres")]
        impl postgres_types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &postgres_types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<postgres_types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &postgres_types::Type) -> bool {
                <Uuid as postgres_types::ToSql>::accepts(ty)
            }

            postgres_types::to_sql_checked!();
        }

        #[cfg(feature = "postgres")]
        impl<'a> postgres_types::FromSql<'a> for $name {
            fn from_sql(
                ty: &postgres_types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                Uuid::from_sql(ty, raw).map(Self)
            }

            fn accepts(ty: &postgres_types::Type) -> bool {
                <Uuid as postgres_types::FromSql>::accepts(ty)
            }
        }
    };
}

/// A text id Atlassian or a delivery gives us: never empty, otherwise taken as it comes.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                if value.is_empty() {
                    Err(IdError::Empty($kind))
                } else {
                    Ok(Self(value))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::parse(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(
    /// MetaFrazo's id for a connected workspace: the warehouse's key. See the module docs.
    InstallationId,
    "installation id"
);

uuid_id!(
    /// A MetaFrazo organization.
    OrganizationId,
    "organization id"
);

text_id!(
    /// Atlassian's name for a workspace's connection (Connect `clientKey`, Forge
    /// `app.installationId`, admin webhook connection id). Only ingress looks anything up by it.
    ClientKey,
    "client key"
);

text_id!(
    /// The SHA-256 of the body (Connect, Data Center), or for Forge a hash of what names the
    /// event: the same for Atlassian's retries and for any replay of the body.
    DeliveryId,
    "delivery id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installation_id_reads_back_what_it_writes_in_every_form() {
        let id = InstallationId::new_random();
        assert_eq!(id.to_string().parse::<InstallationId>(), Ok(id));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<InstallationId>(&json).unwrap(), id);
    }

    #[test]
    fn a_client_key_is_not_an_installation_id() {
        // Connect client keys are free text; Forge's are ARIs. Neither parses as ours.
        for key in ["7a6b1c2d-ck", "ari:cloud:ecosystem::installation/5f1b"] {
            assert!(key.parse::<InstallationId>().is_err(), "{key}");
        }
    }

    #[test]
    fn text_ids_refuse_empty_values() {
        assert_eq!(ClientKey::parse(""), Err(IdError::Empty("client key")));
        assert_eq!(DeliveryId::parse(""), Err(IdError::Empty("delivery id")));
        assert_eq!(ClientKey::parse("ck").unwrap().as_str(), "ck");
    }
}
