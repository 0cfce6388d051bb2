// SPDX-License-Identifier: GPL-2.0 OR MIT
//! `kring-bench render`: CSV, markdown and a hand-written SVG chart from a results file.

use std::fmt::Write as _;
use std::path::Path;

use crate::report::{self, chart_reference, Record, Report};
use crate::transport::TRANSPORTS;

/// Writes `results.csv`, `table.md` and `results.svg` into `out`.
pub fn render(rep: &Report, out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("results.csv"), report::csv(rep))?;
    std::fs::write(out.join("table.md"), report::markdown(rep))?;
    std::fs::write(out.join("results.svg"), svg(rep))?;
    Ok(())
}

fn color(transport: &str) -> &'static str {
    match transport {
        "pipe" => "#8c8c8c",
        "unix" => "#1f77b4",
        "mqueue" => "#9467bd",
        "shm-ring" => "#2ca02c",
        "kring-send" => "#ff7f0e",
        "kring-batch" => "#d62728",
        "kring-desc" => "#8c564b",
        "kring-desc-append" => "#e377c2",
        "kring-desc-fresh" => "#7f7f00",
        "kring-schema" => "#17becf",
        "kring-schema-batch" => "#bcbd22",
        _ => "#444444",
    }
}

fn order(transport: &str) -> usize {
    TRANSPORTS
        .iter()
        .position(|(t, _)| *t == transport)
        .unwrap_or(usize::MAX)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One cluster of bars: a size (and payload, metric) of a scenario.
struct Group {
    label: String,
    bars: Vec<(String, f64)>,
}

fn groups(rep: &Report, scenario: &str) -> Vec<Group> {
    let reference = chart_reference(scenario);
    let mut keys: Vec<(u64, String, String)> = Vec::new();
    for r in rep.results.iter().filter(|r| r.scenario == scenario) {
        let k = (r.size, r.payload.clone(), r.metric.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut out = Vec::new();
    for (size, payload, metric) in keys {
        let mut rs: Vec<&Record> = rep
            .results
            .iter()
            .filter(|r| {
                r.scenario == scenario
                    && r.size == size
                    && r.payload == payload
                    && r.metric == metric
            })
            .collect();
        rs.sort_by_key(|r| order(&r.transport));
        let bars: Vec<(String, f64)> = rs
            .iter()
            .filter_map(|r| r.ratios.get(reference).map(|v| (r.transport.clone(), *v)))
            .filter(|(_, v)| *v > 0.0)
            .collect();
        if bars.is_empty() {
            continue;
        }
        let mut label = if payload == "raw" {
            report::bytes(size)
        } else {
            format!("{payload} ({})", report::bytes(size))
        };
        if metric.starts_with("ns") {
            label = format!("{label}, {}", metric.trim_start_matches("ns "));
        }
        out.push(Group { label, bars });
    }
    out
}

const BAR: f64 = 16.0;
const BAR_GAP: f64 = 3.0;
const GROUP_GAP: f64 = 34.0;
const LEFT: f64 = 64.0;
const PLOT_H: f64 = 220.0;
const PANEL_H: f64 = 330.0;

fn group_width(g: &Group) -> f64 {
    let label = g.label.chars().count() as f64 * 7.5;
    (g.bars.len() as f64 * (BAR + BAR_GAP)).max(label).max(70.0) + GROUP_GAP
}

/// The chart: per scenario a panel of bar groups (one per size), each bar a transport's
/// speed-up against the scenario's reference (pipe; kring-send for schemas), on a log scale.
pub fn svg(rep: &Report) -> String {
    let scenarios: Vec<&str> = report::SCENARIO_ORDER
        .iter()
        .copied()
        .filter(|s| rep.results.iter().any(|r| r.scenario == *s))
        .collect();
    let panels: Vec<(&str, Vec<Group>)> = scenarios
        .iter()
        .map(|s| (*s, groups(rep, s)))
        .filter(|(_, g)| !g.is_empty())
        .collect();
    let mut present: Vec<String> = Vec::new();
    for (_, gs) in &panels {
        for g in gs {
            for (t, _) in &g.bars {
                if !present.contains(t) {
                    present.push(t.clone());
                }
            }
        }
    }
    present.sort_by_key(|t| order(t));
    let width = panels
        .iter()
        .map(|(_, gs)| LEFT + gs.iter().map(group_width).sum::<f64>() + 20.0)
        .fold(900.0, f64::max);
    let legend_per_line = ((width - 40.0) / 150.0).floor().max(1.0) as usize;
    let legend_h = 24.0 * present.len().div_ceil(legend_per_line).max(1) as f64;
    let top = 50.0 + legend_h;
    let height = top + PANEL_H * panels.len().max(1) as f64 + 30.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let m = &rep.meta;
    let _ = writeln!(
        s,
        r#"<text x="20" y="24" font-size="16" font-weight="bold">kring-bench: speed-up against pipe (schema: against kring-send), log scale</text>"#
    );
    let _ = writeln!(
        s,
        r##"<text x="20" y="42" font-size="11" fill="#555">{}</text>"##,
        esc(&format!(
            "median of {} repeats; > 1x: faster than the reference. Linux {}, {} CPUs, accel {}, kring {}, {}",
            m.repeats,
            m.kernel,
            m.cpus,
            m.accel,
            m.kring_version.as_deref().unwrap_or("absent"),
            m.date
        ))
    );
    for (i, t) in present.iter().enumerate() {
        let x = 20.0 + (i % legend_per_line) as f64 * 150.0;
        let y = 54.0 + (i / legend_per_line) as f64 * 24.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{y}" width="14" height="14" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            color(t),
            x + 20.0,
            y + 12.0,
            esc(t)
        );
    }
    for (p, (scenario, gs)) in panels.iter().enumerate() {
        panel(&mut s, scenario, gs, top + p as f64 * PANEL_H, width);
    }
    if panels.is_empty() {
        let _ = writeln!(
            s,
            r#"<text x="20" y="{}">No ratios to draw (no reference transport was measured).</text>"#,
            top + 20.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn panel(s: &mut String, scenario: &str, gs: &[Group], y0: f64, width: f64) {
    let metric = match scenario {
        "pingpong" => "round-trip latency",
        "large" => "MB/s",
        _ => "msgs/s",
    };
    let _ = writeln!(
        s,
        r#"<text x="20" y="{}" font-size="14" font-weight="bold">{}</text>"#,
        y0 + 20.0,
        esc(&format!(
            "{scenario}: {} ({metric}, x {})",
            report::heading(scenario),
            chart_reference(scenario)
        ))
    );
    let vals = gs.iter().flat_map(|g| g.bars.iter().map(|b| b.1));
    let (lo, hi) = vals.fold((1.0f64, 1.0f64), |(l, h), v| (l.min(v), h.max(v)));
    // Whole decades, with room beyond the longest bars for their labels.
    let (lo, hi) = (
        (lo.log10() - 0.5).floor().min(-1.0),
        (hi.log10() + 0.5).ceil().max(1.0),
    );
    let plot_top = y0 + 40.0;
    let y = |v: f64| plot_top + (hi - v.log10()) / (hi - lo) * PLOT_H;
    let right = width - 20.0;
    for e in (lo as i32)..=(hi as i32) {
        let yy = y(10f64.powi(e));
        let label = if e >= 0 {
            format!("{}x", 10u64.pow(e as u32))
        } else {
            format!("{}x", 10f64.powi(e))
        };
        let (stroke, w) = if e == 0 { ("#333", 1.2) } else { ("#ddd", 1.0) };
        let _ = writeln!(
            s,
            r#"<line x1="{LEFT}" y1="{yy:.1}" x2="{right}" y2="{yy:.1}" stroke="{stroke}" stroke-width="{w}"/>"#
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{:.1}" text-anchor="end" font-size="11" fill="#333">{label}</text>"##,
            LEFT - 6.0,
            yy + 4.0
        );
    }
    let one = y(1.0);
    let mut x = LEFT + 12.0;
    for g in gs {
        let gw = group_width(g) - GROUP_GAP;
        let bars_w = g.bars.len() as f64 * (BAR + BAR_GAP);
        let mut bx = x + (gw - bars_w) / 2.0;
        for (t, v) in &g.bars {
            let yv = y(*v);
            let (top, h) = if yv < one {
                (yv, one - yv)
            } else {
                (one, yv - one)
            };
            let _ = writeln!(
                s,
                r#"<rect x="{bx:.1}" y="{top:.1}" width="{BAR}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
                h.max(1.0),
                color(t),
                esc(&format!("{t}: {v:.3}x"))
            );
            // The value, written along the bar's end (outside it).
            let (ty, anchor) = if yv < one {
                (yv - 4.0, "start")
            } else {
                (yv + 4.0, "end")
            };
            let cx = bx + BAR / 2.0 + 4.0;
            let _ = writeln!(
                s,
                r#"<text x="{cx:.1}" y="{ty:.1}" font-size="10" text-anchor="{anchor}" transform="rotate(-90 {cx:.1} {ty:.1})">{}</text>"#,
                ratio_label(*v)
            );
            bx += BAR + BAR_GAP;
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">{}</text>"#,
            x + gw / 2.0,
            plot_top + PLOT_H + 26.0,
            esc(&g.label)
        );
        x += group_width(g);
    }
}

fn ratio_label(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}x")
    } else if v >= 10.0 {
        format!("{v:.1}x")
    } else {
        format!("{v:.2}x")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixture;

    #[test]
    fn svg_is_well_formed_enough_and_has_every_bar() {
        let rep = fixture();
        let s = svg(&rep);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        // Every record with a ratio against its chart reference is a bar.
        let bars = rep
            .results
            .iter()
            .filter(|r| r.ratios.contains_key(chart_reference(&r.scenario)))
            .count();
        assert_eq!(
            s.matches("<rect x=").count() - s.matches(r#"width="14" height="14""#).count(),
            bars
        );
        assert_eq!(s.matches('<').count(), s.matches('>').count());
        assert!(s.contains("kring-desc: 12.000x"));
    }

    #[test]
    fn an_empty_report_renders() {
        let s = svg(&Report::default());
        assert!(s.contains("No ratios to draw"));
        let dir = std::env::temp_dir().join(format!("kring-bench-render-{}", std::process::id()));
        render(&fixture(), &dir).unwrap();
        for f in ["results.csv", "table.md", "results.svg"] {
            assert!(std::fs::metadata(dir.join(f)).unwrap().len() > 0, "{f}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
