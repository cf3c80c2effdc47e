//! Reads from Prometheus what only the services' metrics know: deliveries ingress refused per
//! workspace, and events waiting in the pipeline. The troubleshooting page must still answer
//! when Prometheus does not, so every read may come back `None`.

use std::{collections::BTreeMap, time::Duration};

use contracts::InstallationId;
use serde::Deserialize;
use url::Url;

#[derive(Clone)]
pub(crate) struct Prometheus {
    http: reqwest::Client,
    base: Url,
}

#[derive(Deserialize)]
struct Answer {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Sample>,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// A PromQL string literal.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Prometheus {
    pub(crate) fn new(base: Url) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .expect("an HTTP client with a timeout"),
            base,
        }
    }

    async fn query(&self, promql: &str) -> Option<Vec<Sample>> {
        let mut url = self.base.join("/api/v1/query").ok()?;
        url.query_pairs_mut().append_pair("query", promql);
        let answer = self.http.get(url).send().await.ok()?;
        if !answer.status().is_success() {
            return None;
        }
        Some(answer.json::<Answer>().await.ok()?.data.result)
    }

    /// Deliveries refused in the last 24 hours for the installation, by reason.
    pub(crate) async fn refusals(
        &self,
        installation: InstallationId,
    ) -> Option<BTreeMap<String, u64>> {
        let promql = format!(
            "sum by (reason) (increase(ingress_installation_refusals_total{{installation={}}}[24h]))",
            quoted(&installation.to_string())
        );
        let samples = self.query(&promql).await?;
        Some(
            samples
                .into_iter()
                .filter_map(|sample| {
                    let count = sample.value.1.parse::<f64>().ok()?.round() as u64;
                    (count > 0).then(|| {
                        (
                            sample.metric.get("reason").cloned().unwrap_or_default(),
                            count,
                        )
                    })
                })
                .collect(),
        )
    }

    /// Events read by no pipeline yet, over all partitions.
    pub(crate) async fn pipeline_lag(&self) -> Option<u64> {
        let samples = self.query("sum(pipeline_consumer_lag_messages)").await?;
        Some(
            samples
                .first()
                .and_then(|sample| sample.value.1.parse::<f64>().ok())
                .map_or(0, |lag| lag.max(0.0) as u64),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_quoted_so_they_cannot_change_the_query() {
        assert_eq!(quoted("ari:cloud/1"), "\"ari:cloud/1\"");
        assert_eq!(quoted("a\"} or vector(1) #"), "\"a\\\"} or vector(1) #\"");
    }
}
