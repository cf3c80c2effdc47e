//! CSV answers: a header row and records, quoted by the `csv` crate, sent as a download.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::error::DashboardError;

pub(crate) fn csv_response(
    filename: &'static str,
    header_row: &[&str],
    records: impl IntoIterator<Item = Vec<String>>,
) -> Result<Response, DashboardError> {
    let failed = |err: csv::Error| DashboardError::Store(format!("writing CSV: {err}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header_row).map_err(failed)?;
    for record in records {
        writer.write_record(&record).map_err(failed)?;
    }
    let body = writer
        .into_inner()
        .map_err(|err| DashboardError::Store(format!("writing CSV: {err}")))?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
