//! Reading what a page shows: the text of its tables' cells, row by row, so a test compares
//! the numbers a person sees with the numbers it expects.

/// Every `<tr>` of `html` with the text of its `<td>` cells (tags stripped, entities of the
/// few kinds our pages write decoded, whitespace folded); rows without cells (headers) are
/// left out.
pub fn table_rows(html: &str) -> Vec<Vec<String>> {
    html.split("<tr")
        .skip(1)
        .filter_map(|row| {
            let row = &row[..row.find("</tr>").unwrap_or(row.len())];
            let cells: Vec<String> = row
                .split("<td")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[cell.find('>').map_or(0, |at| at + 1)..];
                    text(&cell[..cell.find("</td>").unwrap_or(cell.len())])
                })
                .collect();
            (!cells.is_empty()).then_some(cells)
        })
        .collect()
}

/// The text of an HTML fragment.
pub fn text(fragment: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_come_back_as_text_row_by_row() {
        let html = r#"<table><thead><tr><th>Week</th></tr></thead><tbody>
            <tr><td>2026-11-23 <span class="partial">partial</span></td><td class="num">4</td></tr>
            <tr><td>A &amp; B</td><td class="num">0</td></tr></tbody></table>"#;
        assert_eq!(
            table_rows(html),
            vec![
                vec!["2026-11-23 partial".to_owned(), "4".to_owned()],
                vec!["A & B".to_owned(), "0".to_owned()],
            ]
        );
    }
}
