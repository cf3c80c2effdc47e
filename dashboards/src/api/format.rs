//! `format=csv`: the same rows as a CSV download, for the roles that may export.

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::{access::Member, error::DashboardError};

/// The answer's format; read from the query string beside the view's parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FormatQuery {
    /// `csv` answers the same rows as a CSV download (a column per kind or field where the
    /// JSON has a map), for analysts, admins and owners; a viewer gets 403. Anything else, or
    /// nothing, answers JSON.
    #[param(inline)]
    format: Option<Format>,
}

#[derive(PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    Json,
    Csv,
}

impl FormatQuery {
    /// Any `format=csv` pair asks for CSV, as it always has; an unknown format is JSON, not an
    /// error.
    fn of(raw: Option<&str>) -> Self {
        let csv = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .any(|(key, value)| key == "format" && value == "csv");
        Self {
            format: Some(if csv { Format::Csv } else { Format::Json }),
        }
    }
}

/// Whether the caller asked for CSV, which needs the export right.
pub(crate) fn wants_csv(raw: Option<&str>, member: &Member) -> Result<bool, DashboardError> {
    let csv = FormatQuery::of(raw).format == Some(Format::Csv);
    if csv && !member.role.can_export() {
        return Err(DashboardError::Forbidden(
            "CSV exports are for analysts, admins and owners",
        ));
    }
    Ok(csv)
}
