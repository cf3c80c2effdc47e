//! Charts as inline SVG, drawn on the server: axes with units, a legend, and each point or bar
//! carrying a `<title>`, which browsers show on hover. No script and no CDN, so the pages work
//! offline and without JavaScript; the same numbers are always in a table beside the chart.

use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 48.0;
const PALETTE: [&str; 8] = [
    "#2454d6", "#d9730d", "#0f7b6c", "#b42318", "#6941c6", "#5b6478", "#c11574", "#067647",
];

pub(crate) struct Series {
    pub name: String,
    /// One value per x label; `None` where there is nothing to show (no data).
    pub values: Vec<Option<f64>>,
}

pub(crate) struct Chart<'a> {
    /// Read by screen readers.
    pub title: &'a str,
    /// The unit of the y axis (`events`, `hours`, `issues`).
    pub unit: &'a str,
    pub x_labels: &'a [String],
    /// X positions drawn as partial (a week with fewer than 7 days of data): lighter, and said
    /// so on hover.
    pub partial: &'a [bool],
    pub series: Vec<Series>,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" axis maximum and step: 1, 2 or 5 times a power of ten, about five ticks.
fn axis(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (1.0, 0.2);
    }
    let rough = max / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

impl Chart<'_> {
    fn frame(&self, max: f64, out: &mut String) -> (f64, f64) {
        let (top, step) = axis(max);
        let plot_h = HEIGHT - TOP - BOTTOM;
        let _ = write!(
            out,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">"#,
            escape(self.title)
        );
        let mut tick = 0.0;
        while tick <= top + step / 2.0 {
            let y = TOP + plot_h - tick / top * plot_h;
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e7ee"/><text x="{}" y="{:.1}" text-anchor="end" fill="#5b6478">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                format_value(tick)
            );
            tick += step;
        }
        let _ = write!(
            out,
            r##"<text x="12" y="{}" transform="rotate(-90 12 {})" text-anchor="middle" fill="#5b6478">{}</text>"##,
            TOP + plot_h / 2.0,
            TOP + plot_h / 2.0,
            escape(self.unit)
        );
        let slots = self.x_labels.len().max(1) as f64;
        let slot_w = (WIDTH - LEFT - RIGHT) / slots;
        let every = (self.x_labels.len() / 8).max(1);
        for (i, label) in self.x_labels.iter().enumerate() {
            if i % every == 0 {
                let x = LEFT + slot_w * (i as f64 + 0.5);
                let _ = write!(
                    out,
                    r##"<text x="{x:.1}" y="{}" text-anchor="middle" fill="#5b6478">{}</text>"##,
                    HEIGHT - BOTTOM + 16.0,
                    escape(label)
                );
            }
        }
        let mut legend_x = LEFT;
        for (i, series) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let _ = write!(
                out,
                r##"<rect x="{legend_x:.1}" y="12" width="10" height="10" fill="{color}"/><text x="{:.1}" y="21" fill="#1d2433">{}</text>"##,
                legend_x + 14.0,
                escape(&series.name)
            );
            legend_x += 26.0 + 7.0 * series.name.chars().count() as f64;
        }
        (top, slot_w)
    }

    fn hover(&self, series: &Series, i: usize, value: f64) -> String {
        let partial = if self.partial.get(i).copied().unwrap_or(false) {
            " (partial week)"
        } else {
            ""
        };
        escape(&format!(
            "{}, {}{partial}: {} {}",
            series.name,
            self.x_labels.get(i).map(String::as_str).unwrap_or(""),
            format_value(value),
            self.unit
        ))
    }

    /// One line per series.
    pub(crate) fn line(&self) -> String {
        self.line_linked(&[])
    }

    /// One line per series, each point linking to `links[series][x]` (when there is one): the
    /// list behind that number.
    pub(crate) fn line_linked(&self, links: &[Vec<String>]) -> String {
        let max = self
            .series
            .iter()
            .flat_map(|series| series.values.iter().flatten())
            .fold(0.0f64, |max, v| max.max(*v));
        let mut out = String::new();
        let (top, slot_w) = self.frame(max, &mut out);
        let plot_h = HEIGHT - TOP - BOTTOM;
        for (s, series) in self.series.iter().enumerate() {
            let color = PALETTE[s % PALETTE.len()];
            let points: Vec<(usize, f64, f64, f64)> = series
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    v.map(|v| {
                        (
                            i,
                            LEFT + slot_w * (i as f64 + 0.5),
                            TOP + plot_h - v / top * plot_h,
                            v,
                        )
                    })
                })
                .collect();
            let path: Vec<String> = points
                .iter()
                .map(|(_, x, y, _)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = write!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                path.join(" ")
            );
            for (i, x, y, v) in points {
                let partial = self.partial.get(i).copied().unwrap_or(false);
                let fill = if partial { "#fff" } else { color };
                let link = links.get(s).and_then(|links| links.get(i));
                if let Some(link) = link {
                    let _ = write!(out, r#"<a href="{}">"#, escape(link));
                }
                let _ = write!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{fill}" stroke="{color}" stroke-width="2"><title>{}</title></circle>"#,
                    self.hover(series, i, v)
                );
                if link.is_some() {
                    out.push_str("</a>");
                }
            }
        }
        out.push_str("</svg>");
        out
    }

    /// Stacked bars, one stack per x label.
    pub(crate) fn stacked_bars(&self) -> String {
        self.bars(&[], &[])
    }

    /// Stacked bars whose stack at each x label links to `links[x]`: the list behind it.
    pub(crate) fn stacked_bars_linked(&self, links: &[String]) -> String {
        self.bars(links, &[])
    }

    /// Stacked bars whose every segment links to `links[series][x]`: the list behind that one
    /// number.
    pub(crate) fn stacked_bars_linked_each(&self, links: &[Vec<String>]) -> String {
        self.bars(&[], links)
    }

    fn bars(&self, links: &[String], segment_links: &[Vec<String>]) -> String {
        let totals: Vec<f64> = (0..self.x_labels.len())
            .map(|i| {
                self.series
                    .iter()
                    .filter_map(|series| series.values.get(i).copied().flatten())
                    .sum()
            })
            .collect();
        let max = totals.iter().fold(0.0f64, |max, v| max.max(*v));
        let mut out = String::new();
        let (top, slot_w) = self.frame(max, &mut out);
        let plot_h = HEIGHT - TOP - BOTTOM;
        let bar_w = (slot_w * 0.7).max(2.0);
        for i in 0..self.x_labels.len() {
            let x = LEFT + slot_w * i as f64 + (slot_w - bar_w) / 2.0;
            let opacity = if self.partial.get(i).copied().unwrap_or(false) {
                0.45
            } else {
                1.0
            };
            let mut base = TOP + plot_h;
            let link = links.get(i);
            if let Some(link) = link {
                let _ = write!(out, r#"<a href="{}">"#, escape(link));
            }
            for (s, series) in self.series.iter().enumerate() {
                let Some(value) = series.values.get(i).copied().flatten().filter(|v| *v > 0.0)
                else {
                    continue;
                };
                let h = value / top * plot_h;
                base -= h;
                let segment_link = segment_links.get(s).and_then(|links| links.get(i));
                if let Some(link) = segment_link {
                    let _ = write!(out, r#"<a href="{}">"#, escape(link));
                }
                let _ = write!(
                    out,
                    r#"<rect x="{x:.1}" y="{base:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{}" fill-opacity="{opacity}"><title>{}</title></rect>"#,
                    PALETTE[s % PALETTE.len()],
                    self.hover(series, i, value)
                );
                if segment_link.is_some() {
                    out.push_str("</a>");
                }
            }
            if link.is_some() {
                out.push_str("</a>");
            }
        }
        out.push_str("</svg>");
        out
    }
}

/// One point of a scatter chart: where it is, what it says on hover, where it leads.
pub(crate) struct Point {
    pub x_ms: i64,
    pub y: f64,
    /// Said on hover, before the value.
    pub label: String,
    /// Followed on click: the list behind the point.
    pub href: String,
    /// Drawn in the second series' colour (an outlier).
    pub marked: bool,
}

impl Chart<'_> {
    /// Points placed by time across `span` (the x labels' slots cover it evenly), each a link.
    /// The first series names the points, the second the marked ones.
    pub(crate) fn scatter(&self, span: (i64, i64), points: &[Point]) -> String {
        let max = points.iter().fold(0.0f64, |max, p| max.max(p.y));
        let mut out = String::new();
        let (top, _) = self.frame(max, &mut out);
        let plot_h = HEIGHT - TOP - BOTTOM;
        let plot_w = WIDTH - LEFT - RIGHT;
        let width = (span.1 - span.0).max(1) as f64;
        for point in points {
            let x = LEFT + plot_w * ((point.x_ms - span.0) as f64 / width).clamp(0.0, 1.0);
            let y = TOP + plot_h - point.y / top * plot_h;
            let color = PALETTE[usize::from(point.marked)];
            let _ = write!(
                out,
                r#"<a href="{}"><circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{color}" fill-opacity="0.7"><title>{}</title></circle></a>"#,
                escape(&point.href),
                escape(&format!(
                    "{}: {} {}",
                    point.label,
                    format_value(point.y),
                    self.unit
                ))
            );
        }
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart<'a>(labels: &'a [String], partial: &'a [bool]) -> Chart<'a> {
        Chart {
            title: "Created <vs> resolved",
            unit: "issues",
            x_labels: labels,
            partial,
            series: vec![
                Series {
                    name: "created".into(),
                    values: vec![Some(3.0), Some(7.0)],
                },
                Series {
                    name: "resolved".into(),
                    values: vec![None, Some(2.0)],
                },
            ],
        }
    }

    #[test]
    fn axes_are_round_numbers_above_the_data() {
        assert_eq!(axis(7.0), (8.0, 2.0));
        assert_eq!(axis(93.0), (100.0, 20.0));
        assert_eq!(axis(0.0), (1.0, 0.2));
    }

    #[test]
    fn every_point_and_bar_says_its_value_on_hover_and_labels_are_escaped() {
        let labels = vec!["2026-W01".to_owned(), "2026-W02".to_owned()];
        let partial = [false, true];
        let line = chart(&labels, &partial).line();
        assert!(
            line.contains("<title>created, 2026-W01: 3 issues</title>"),
            "{line}"
        );
        assert!(line.contains("<title>created, 2026-W02 (partial week): 7 issues</title>"));
        assert_eq!(
            line.matches("<circle").count(),
            3,
            "no point where there is no value"
        );
        assert!(line.contains("Created &lt;vs&gt; resolved"));
        let bars = chart(&labels, &partial).stacked_bars();
        assert_eq!(
            bars.matches("<rect x=\"").count() - 2,
            3,
            "three bars beside two legend keys"
        );
        assert!(
            bars.contains("fill-opacity=\"0.45\""),
            "the partial week is drawn lighter"
        );
    }

    #[test]
    fn a_linked_bar_leads_to_the_list_behind_it() {
        let labels = vec!["Nov 2".to_owned(), "Nov 9".to_owned()];
        let links = [
            "/a?from=2026-11-02&to=2026-11-08".to_owned(),
            "/b".to_owned(),
        ];
        let bars = chart(&labels, &[]).stacked_bars_linked(&links);
        assert!(
            bars.contains(r#"<a href="/a?from=2026-11-02&amp;to=2026-11-08"><rect"#),
            "{bars}"
        );
        assert_eq!(bars.matches("<a href=").count(), 2);
        assert_eq!(bars.matches("</a>").count(), 2);
        assert!(!chart(&labels, &[]).stacked_bars().contains("<a "));
    }

    #[test]
    fn each_number_of_a_stack_or_a_line_leads_to_its_own_list() {
        let labels = vec!["Nov 2".to_owned(), "Nov 9".to_owned()];
        let links: Vec<Vec<String>> = ["created", "resolved"]
            .iter()
            .map(|series| vec![format!("/{series}/1"), format!("/{series}/2")])
            .collect();
        for drawn in [
            chart(&labels, &[]).stacked_bars_linked_each(&links),
            chart(&labels, &[]).line_linked(&links),
        ] {
            // Three values (resolved has none in the first week): three links, each its own.
            assert_eq!(drawn.matches("<a href=").count(), 3, "{drawn}");
            for link in ["/created/1", "/created/2", "/resolved/2"] {
                assert!(drawn.contains(&format!(r#"<a href="{link}">"#)), "{link}");
            }
            assert!(
                !drawn.contains("/resolved/1"),
                "no link to a value not drawn"
            );
        }
    }

    #[test]
    fn a_scatter_point_links_to_what_is_behind_it_and_says_its_value() {
        let labels = vec!["Nov 2".to_owned(), "Nov 9".to_owned()];
        let mut chart = chart(&labels, &[]);
        chart.unit = "hours";
        let points = [
            Point {
                x_ms: 0,
                y: 12.5,
                label: "PAY-1 <done>".into(),
                href: "/orgs/o/events?issue_key=PAY-1&weeks=2".into(),
                marked: false,
            },
            Point {
                x_ms: 100,
                y: 40.0,
                label: "PAY-2".into(),
                href: "/x".into(),
                marked: true,
            },
        ];
        let svg = chart.scatter((0, 100), &points);
        assert!(
            svg.contains(r#"<a href="/orgs/o/events?issue_key=PAY-1&amp;weeks=2">"#),
            "{svg}"
        );
        assert!(svg.contains("<title>PAY-1 &lt;done&gt;: 12.5 hours</title>"));
        assert!(
            svg.contains(&format!("fill=\"{}\"", PALETTE[1])),
            "the marked point"
        );
        assert!(
            svg.contains(r#"cx="744.0""#),
            "the last instant at the right edge: {svg}"
        );
    }
}
