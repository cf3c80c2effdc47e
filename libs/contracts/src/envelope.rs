//! The raw-event envelope, the contract between ingress and the pipeline. The Kafka message
//! value is the delivery's payload, byte for byte; everything we know about the delivery
//! travels in named headers, so the envelope is self-describing and versioned without ever
//! re-encoding what Atlassian sent.

use std::str::FromStr;

use bytes::Bytes;

use crate::{ClientKey, DeliveryId, InstallationId, Source};

pub const VERSION: u8 = 1;

pub mod header {
    pub const VERSION: &str = "mf-envelope";
    pub const INSTALLATION_ID: &str = "mf-installation-id";
    pub const CLIENT_KEY: &str = "mf-client-key";
    pub const DELIVERY_ID: &str = "mf-delivery-id";
    pub const RETRY: &str = "mf-retry";
    pub const SOURCE: &str = "mf-source";
    pub const RECEIVED_AT_MS: &str = "mf-received-at-ms";
    pub const REQUEST_ID: &str = "mf-request-id";
    /// Only on dead letters: why the message could not be used.
    pub const DEAD_LETTER_REASON: &str = "mf-dead-letter-reason";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MetaFrazo's installation: the Kafka key and the warehouse's key.
    pub installation_id: InstallationId,
    /// Atlassian's name for the installation, carried for the logs and dead letters.
    pub client_key: ClientKey,
    /// Derived from the verified body (see [`DeliveryId`]); with the installation, the key that
    /// makes a retried or replayed delivery count once.
    pub delivery_id: DeliveryId,
    pub retry: u32,
    pub source: Source,
    pub received_at_ms: i64,
    pub request_id: String,
    /// Shared with the request body it came from: never copied on the way to the broker.
    pub payload: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the message has no {0} header")]
    Missing(&'static str),
    #[error("envelope version {0} is not one this build reads")]
    UnsupportedVersion(String),
    #[error("header {0} has an invalid value {1:?}")]
    Invalid(&'static str, String),
}

/// A Kafka message's headers as (name, value) pairs, the form [`Envelope::decode`] reads;
/// headers without a value are left out.
#[cfg(feature = "kafka")]
pub fn message_headers<M: rdkafka::Message>(message: &M) -> Vec<(&str, &[u8])> {
    use rdkafka::message::Headers;
    message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .filter_map(|header| header.value.map(|value| (header.key, value)))
                .collect()
        })
        .unwrap_or_default()
}

impl Envelope {
    /// The message key: all of one installation's events go to one partition, in order.
    pub fn key(&self) -> String {
        self.installation_id.to_string()
    }

    /// The header pairs to produce, in a fixed order.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            (header::VERSION, VERSION.to_string()),
            (header::INSTALLATION_ID, self.installation_id.to_string()),
            (header::CLIENT_KEY, self.client_key.to_string()),
            (header::DELIVERY_ID, self.delivery_id.to_string()),
            (header::RETRY, self.retry.to_string()),
            (header::SOURCE, self.source.as_str().to_owned()),
            (header::RECEIVED_AT_MS, self.received_at_ms.to_string()),
            (header::REQUEST_ID, self.request_id.clone()),
        ]
    }

    /// Reads an envelope back from a message's headers and value.
    pub fn decode<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        payload: &[u8],
    ) -> Result<Self, EnvelopeError> {
        let mut found: std::collections::HashMap<&str, &[u8]> = Default::default();
        for (name, value) in headers {
            found.insert(name, value);
        }
        let text = |name: &'static str| -> Result<&str, EnvelopeError> {
            let bytes = found.get(name).ok_or(EnvelopeError::Missing(name))?;
            std::str::from_utf8(bytes)
                .map_err(|_| EnvelopeError::Invalid(name, String::from_utf8_lossy(bytes).into()))
        };
        let version = text(header::VERSION)?;
        if version != VERSION.to_string() {
            return Err(EnvelopeError::UnsupportedVersion(version.to_owned()));
        }
        fn parse<T: FromStr>(name: &'static str, value: &str) -> Result<T, EnvelopeError> {
            value
                .parse()
                .map_err(|_| EnvelopeError::Invalid(name, value.to_owned()))
        }
        Ok(Self {
            installation_id: parse(header::INSTALLATION_ID, text(header::INSTALLATION_ID)?)?,
            client_key: parse(header::CLIENT_KEY, text(header::CLIENT_KEY)?)?,
            delivery_id: parse(header::DELIVERY_ID, text(header::DELIVERY_ID)?)?,
            retry: parse(header::RETRY, text(header::RETRY)?)?,
            source: parse(header::SOURCE, text(header::SOURCE)?)?,
            received_at_ms: parse(header::RECEIVED_AT_MS, text(header::RECEIVED_AT_MS)?)?,
            request_id: text(header::REQUEST_ID)?.to_owned(),
            payload: Bytes::copy_from_slice(payload),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope {
            installation_id: InstallationId::new_random(),
            client_key: ClientKey::parse("7a6b1c2d").unwrap(),
            delivery_id: DeliveryId::parse("wh-1").unwrap(),
            retry: 2,
            source: Source::Forge,
            received_at_ms: 1_763_397_602_311,
            request_id: "req-1".into(),
            payload: Bytes::from_static(b"{\"webhookEvent\":\"x\"}\xff"),
        }
    }

    #[test]
    fn an_envelope_decodes_to_what_was_encoded() {
        let envelope = sample();
        let headers = envelope.headers();
        let decoded = Envelope::decode(
            headers
                .iter()
                .map(|(name, value)| (*name, value.as_bytes())),
            &envelope.payload,
        )
        .unwrap();
        assert_eq!(decoded, envelope);
    }

    #[test]
    fn a_missing_or_unknown_header_value_is_named() {
        let envelope = sample();
        let headers = envelope.headers();
        let without_delivery = headers
            .iter()
            .filter(|(name, _)| *name != header::DELIVERY_ID)
            .map(|(name, value)| (*name, value.as_bytes()));
        assert_eq!(
            Envelope::decode(without_delivery, b"{}"),
            Err(EnvelopeError::Missing(header::DELIVERY_ID))
        );
        let future = headers.iter().map(|(name, value)| {
            if *name == header::VERSION {
                (*name, &b"9"[..])
            } else {
                (*name, value.as_bytes())
            }
        });
        assert_eq!(
            Envelope::decode(future, b"{}"),
            Err(EnvelopeError::UnsupportedVersion("9".into()))
        );
    }

    mod properties {
        //! The decoder on headers and values a broker could hand it: never a panic, and what it
        //! accepts is what ingress would have written.

        use proptest::prelude::*;

        use super::super::*;

        const NAMES: &[&str] = &[
            header::VERSION,
            header::INSTALLATION_ID,
            header::CLIENT_KEY,
            header::DELIVERY_ID,
            header::RETRY,
            header::SOURCE,
            header::RECEIVED_AT_MS,
            header::REQUEST_ID,
            header::DEAD_LETTER_REASON,
        ];

        /// Our header names (often, so decoding gets past the first missing one) or any other.
        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => proptest::sample::select(NAMES).prop_map(str::to_owned),
                1 => any::<String>(),
            ]
        }

        /// Values near the valid ones (versions, UUIDs, numbers, sources) or any bytes.
        fn value() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                Just(b"1".to_vec()),
                any::<u128>().prop_map(|id| uuid::Uuid::from_u128(id).to_string().into_bytes()),
                any::<i64>().prop_map(|n| n.to_string().into_bytes()),
                proptest::sample::select(&["connect", "forge", "webhook-secret", "Forge", ""][..])
                    .prop_map(|source| source.as_bytes().to_vec()),
                proptest::collection::vec(any::<u8>(), 0..64),
            ]
        }

        fn envelope() -> impl Strategy<Value = Envelope> {
            (
                any::<u128>(),
                ".+",
                ".+",
                any::<u32>(),
                proptest::sample::select(
                    &[Source::Connect, Source::Forge, Source::WebhookSecret][..],
                ),
                any::<i64>(),
                any::<String>(),
                proptest::collection::vec(any::<u8>(), 0..256),
            )
                .prop_map(
                    |(
                        id,
                        client_key,
                        delivery_id,
                        retry,
                        source,
                        received_at_ms,
                        request_id,
                        payload,
                    )| {
                        Envelope {
                            installation_id: InstallationId::from_uuid(uuid::Uuid::from_u128(id)),
                            client_key: ClientKey::parse(client_key).unwrap(),
                            delivery_id: DeliveryId::parse(delivery_id).unwrap(),
                            retry,
                            source,
                            received_at_ms,
                            request_id,
                            payload: Bytes::from(payload),
                        }
                    },
                )
        }

        proptest! {
            #[test]
            fn any_headers_decode_or_name_what_is_wrong(
                headers in proptest::collection::vec((name(), value()), 0..12),
                payload in proptest::collection::vec(any::<u8>(), 0..128),
            ) {
                let decoded = Envelope::decode(
                    headers.iter().map(|(name, value)| (name.as_str(), value.as_slice())),
                    &payload,
                );
                if let Ok(envelope) = decoded {
                    prop_assert_eq!(&envelope.payload[..], &payload[..]);
                    let encoded = envelope.headers();
                    let again = Envelope::decode(
                        encoded.iter().map(|(name, value)| (*name, value.as_bytes())),
                        &envelope.payload,
                    );
                    prop_assert_eq!(again, Ok(envelope));
                }
            }

            #[test]
            fn every_envelope_decodes_to_itself(envelope in envelope()) {
                let encoded = envelope.headers();
                let decoded = Envelope::decode(
                    encoded.iter().map(|(name, value)| (*name, value.as_bytes())),
                    &envelope.payload,
                );
                prop_assert_eq!(decoded, Ok(envelope));
            }
        }
    }
}
