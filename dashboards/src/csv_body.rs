//! CSV answers: a header row and records, quoted by the `csv` crate, sent as a download, either
//! whole (a page of the API) or streamed from the warehouse (an export of any size). The
//! rows are the view-models' own (`views/`), so a CSV says what the JSON says. Jira's text
//! (status, issue type, priority and event names) is anyone's to choose, so a cell a spreadsheet
//! would run as a formula is written as text (OWASP's CSV injection advice).

use axum::{
    body::Body,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use futures::{StreamExt, stream};

use crate::error::DashboardError;

/// Rows per chunk of a streamed download: enough that chunk framing is noise, few enough that
/// the first bytes leave at once and memory stays flat.
const ROWS_PER_CHUNK: usize = 1_000;

/// A view-model's row as a CSV record. Counts keyed by kind or field, a map in JSON, are a
/// column each here, so the header names every column even when a view asked for fewer.
pub(crate) trait CsvRow {
    fn header() -> Vec<String>;
    /// One cell per column of [`CsvRow::header`], in its order.
    fn record(&self) -> Vec<String>;
}

pub(crate) fn csv_response<R: CsvRow>(
    filename: &'static str,
    rows: &[R],
) -> Result<Response, DashboardError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(R::header())?;
    for row in rows {
        writer.write_record(row.record().into_iter().map(inert))?;
    }
    let body = into_bytes(writer)?;
    Ok(as_download(filename, body.into_response()))
}

/// Where a streamed download's rows come from, one at a time (a warehouse export).
pub(crate) trait RowSource: Send + 'static {
    type Row;
    fn next_row(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Self::Row>, DashboardError>> + Send;
}

impl RowSource for warehouse::queries::EventExport {
    type Row = warehouse::EventRow;

    async fn next_row(&mut self) -> Result<Option<Self::Row>, DashboardError> {
        Ok(self.next().await?)
    }
}

/// Streams every row of `source` as CSV. The first chunk is read before answering, so a
/// warehouse that cannot run the query gets the usual error page; a failure after that breaks the
/// connection off (logged), so the client sees an incomplete download, never a short file that
/// looks whole.
pub(crate) async fn csv_stream_response<S, R>(
    filename: &'static str,
    mut source: S,
    to_row: fn(&S::Row) -> R,
) -> Result<Response, DashboardError>
where
    S: RowSource,
    R: CsvRow + 'static,
{
    let first = next_chunk(&mut source, true, to_row)
        .await?
        .unwrap_or_default();
    let rest = stream::try_unfold(source, move |mut source| async move {
        match next_chunk(&mut source, false, to_row).await {
            Ok(chunk) => Ok(chunk.map(|chunk| (chunk, source))),
            Err(err) => {
                tracing::error!(filename, error = %err, "a CSV download broke off");
                Err(std::io::Error::other(err.to_string()))
            }
        }
    });
    let body = Body::from_stream(stream::once(async { Ok(first) }).chain(rest));
    Ok(as_download(filename, body.into_response()))
}

/// Up to [`ROWS_PER_CHUNK`] rows as CSV (after the header, for the first chunk); `None` once the
/// cursor is done and there is nothing to send.
async fn next_chunk<S, R>(
    source: &mut S,
    with_header: bool,
    to_row: fn(&S::Row) -> R,
) -> Result<Option<Vec<u8>>, DashboardError>
where
    S: RowSource,
    R: CsvRow,
{
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut written = with_header;
    if with_header {
        writer.write_record(R::header())?;
    }
    for _ in 0..ROWS_PER_CHUNK {
        let Some(row) = source.next_row().await? else {
            break;
        };
        writer.write_record(to_row(&row).record().into_iter().map(inert))?;
        written = true;
    }
    let chunk = into_bytes(writer)?;
    Ok(written.then_some(chunk))
}

/// A cell a spreadsheet would evaluate (starting `=`, `+`, `-`, `@`, tab or carriage return),
/// with a `'` before it so it shows as the text it is; a number is data and stays as it is.
fn inert(cell: String) -> String {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell
    }
}

/// The bytes written; flushing into memory cannot fail, but the type says it could.
fn into_bytes(writer: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, csv::Error> {
    writer
        .into_inner()
        .map_err(|err| csv::Error::from(err.into_error()))
}

fn as_download(filename: &str, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Status(&'static str);

    impl CsvRow for Status {
        fn header() -> Vec<String> {
            vec!["status".into(), "backlog".into()]
        }
        fn record(&self) -> Vec<String> {
            vec![self.0.into(), "-3".into()]
        }
    }

    async fn body_of(rows: &[Status]) -> String {
        let response = csv_response("t.csv", rows).unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn jira_text_a_spreadsheet_would_run_is_written_as_text() {
        let cases = [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
            ("\tIn Progress", "'\tIn Progress"),
            ("\rDone", "\"'\rDone\""),
            ("In Progress", "In Progress"),
            ("a=b", "a=b"),
        ];
        for (status, written) in cases {
            let body = body_of(&[Status(status)]).await;
            assert_eq!(
                body,
                format!("status,backlog\n{written},-3\n"),
                "{status:?} (a number such as -3 stays a number)"
            );
        }
    }
}
