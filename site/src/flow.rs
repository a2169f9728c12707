//! The flow diagram (办理流程图) as inline SVG, laid out from [`workflow::TABLE`] — nothing in it
//! is drawn by hand, so it changes when the table does.
//!
//! Layout: each state is a box; a state's rank is the longest chain of forward transitions
//! (to a later state in [`State::ALL`]) leading to it, ranks are rows and states of one rank sit
//! side by side. A transition to the next rank in the same column is a straight arrow; others
//! are routed at right angles: within a column through lanes on the left, between columns
//! through the gap and into the side or bottom of the other box. Transitions that share a source
//! or a target and an action share a port, so the returns (退回修改) of every reviewer merge into
//! one line. Each arrow is labelled with its action and the role that performs it, and the
//! condition of [`Target::FirstReview`] is written next to the box it leads to.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chengguo_domain::codes::{Action, Role, State};
use chengguo_domain::workflow::{self, Rule, Target};

/// One transition of the table in words, for the table beside the diagram.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TransitionRow {
    pub from: &'static str,
    pub action: &'static str,
    pub actor: &'static str,
    pub to: String,
    pub guard: &'static str,
}

/// The transitions of [`workflow::TABLE`], in its order, in Chinese.
pub fn transition_rows() -> Vec<TransitionRow> {
    workflow::TABLE
        .iter()
        .map(|r| TransitionRow {
            from: r.from.label(),
            action: r.action.label(),
            actor: r.actor.label(),
            to: match r.to {
                Target::State(s) => s.label().to_owned(),
                Target::FirstReview => format!(
                    "{}（有二级部门时）或{}",
                    State::DeptReview.label(),
                    State::UnitReview.label()
                ),
            },
            guard: r.guard,
        })
        .collect()
}

const BOX_W: f64 = 168.0;
const BOX_H: f64 = 56.0;
const ROW_GAP: f64 = 64.0;
const PAD: f64 = 12.0;
const LANE_GAP: f64 = 14.0;
const FONT: f64 = 14.0;
const SMALL: f64 = 12.0;

/// Estimated width of `s` at `size` px: CJK glyphs are square, ASCII about half as wide.
fn text_width(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 0.6 } else { 1.0 })
        .sum::<f64>()
        * size
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

/// Numbers without a trailing `.0`, to keep the markup short and stable.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// One arrow: a rule of the table with one concrete target.
#[derive(Debug, Clone)]
struct Edge {
    from: usize,
    to: usize,
    action: Action,
    actor: Role,
    /// The condition for this target, when the rule has two.
    note: Option<&'static str>,
    guard: &'static str,
}

fn index_of(s: State) -> usize {
    State::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

fn edges_of(table: &[Rule]) -> Vec<Edge> {
    let mut out = Vec::new();
    for r in table {
        let targets: Vec<(State, Option<&'static str>)> = match r.to {
            Target::State(s) => vec![(s, None)],
            Target::FirstReview => vec![
                (State::DeptReview, Some("有二级部门时")),
                (State::UnitReview, Some("无二级部门时")),
            ],
        };
        for (to, note) in targets {
            out.push(Edge {
                from: index_of(r.from),
                to: index_of(to),
                action: r.action,
                actor: r.actor,
                note,
                guard: r.guard,
            });
        }
    }
    out
}

fn label_of(e: &Edge) -> String {
    format!("{}（{}）", e.action.label(), e.actor.label())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Top,
    Bottom,
    Left,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Down to the next rank in the same column.
    Straight,
    /// Same column, through a lane on the left.
    Lane,
    /// Into the box of another column, beside or below/above.
    Across,
}

/// A port: a side of a box shared by the arrows of one action in one direction.
type PortKey = (usize, Side, bool, Action);

struct Layout {
    x: Vec<f64>,
    y: Vec<f64>,
    rank: Vec<usize>,
    col: Vec<usize>,
}

impl Layout {
    fn cx(&self, i: usize) -> f64 {
        self.x[i] + BOX_W / 2.0
    }
    fn cy(&self, i: usize) -> f64 {
        self.y[i] + BOX_H / 2.0
    }
}

/// The flow diagram of [`workflow::TABLE`] as an `<svg>` element.
pub fn svg() -> String {
    svg_of(workflow::TABLE)
}

/// The flow diagram of any transition table (the tests draw small ones).
pub fn svg_of(table: &[Rule]) -> String {
    let states = State::ALL;
    let count = states.len();
    let edges = edges_of(table);
    let used: Vec<bool> = (0..count)
        .map(|i| edges.iter().any(|e| e.from == i || e.to == i))
        .collect();

    // Ranks: the longest forward chain; forward edges go to later states, so one pass in
    // order settles each state before its successors.
    let mut rank = vec![0usize; count];
    for i in 0..count {
        for e in edges.iter().filter(|e| e.from == i && e.to > i) {
            rank[e.to] = rank[e.to].max(rank[i] + 1);
        }
    }
    let mut col = vec![0usize; count];
    let mut per_rank: BTreeMap<usize, usize> = BTreeMap::new();
    for i in (0..count).filter(|i| used[*i]) {
        let c = per_rank.entry(rank[i]).or_default();
        col[i] = *c;
        *c += 1;
    }

    let route = |e: &Edge| {
        if col[e.from] == col[e.to] && rank[e.to] == rank[e.from] + 1 {
            Route::Straight
        } else if col[e.from] == col[e.to] {
            Route::Lane
        } else {
            Route::Across
        }
    };

    // Space for labels: the left lanes and the gap between columns hold their arrows' labels.
    let lane_edges: Vec<usize> = (0..edges.len())
        .filter(|i| route(&edges[*i]) == Route::Lane)
        .collect();
    let left_stub = lane_edges
        .iter()
        .map(|i| {
            let e = &edges[*i];
            text_width(&label_of(e), SMALL).max(e.note.map_or(0.0, |t| text_width(t, SMALL)))
        })
        .fold(0.0, f64::max)
        + 16.0;
    let col_gap = edges
        .iter()
        .filter(|e| route(e) == Route::Across)
        .map(|e| text_width(&label_of(e), SMALL).max(e.note.map_or(0.0, |t| text_width(t, SMALL))))
        .fold(0.0, f64::max)
        .max(80.0)
        + 24.0;

    // Lanes: intervals of rows, shortest first, each in the first lane where it overlaps none.
    let mut lanes: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut lane_of: BTreeMap<usize, usize> = BTreeMap::new();
    let mut by_span = lane_edges.clone();
    by_span.sort_by_key(|i| {
        let e = &edges[*i];
        (rank[e.from].abs_diff(rank[e.to]), *i)
    });
    for i in by_span {
        let e = &edges[i];
        let span = (rank[e.from].min(rank[e.to]), rank[e.from].max(rank[e.to]));
        let free = lanes
            .iter()
            .position(|l| l.iter().all(|(a, b)| span.1 < *a || *b < span.0));
        let k = match free {
            Some(k) => k,
            None => {
                lanes.push(Vec::new());
                lanes.len() - 1
            }
        };
        lanes[k].push(span);
        lane_of.insert(i, k);
    }

    let left = PAD
        + if lanes.is_empty() {
            0.0
        } else {
            left_stub + LANE_GAP * lanes.len() as f64
        };
    let layout = Layout {
        x: (0..count)
            .map(|i| left + col[i] as f64 * (BOX_W + col_gap))
            .collect(),
        y: (0..count)
            .map(|i| PAD + rank[i] as f64 * (BOX_H + ROW_GAP))
            .collect(),
        rank: rank.clone(),
        col: col.clone(),
    };

    // Ports: every side of every box lists the bundles (direction and action) that use it.
    let mut ports: BTreeMap<(usize, Side), Vec<(bool, Action)>> = BTreeMap::new();
    let mut straight_sides: Vec<(usize, Side)> = Vec::new();
    let mut add = |node: usize, side: Side, out: bool, action: Action| {
        let list = ports.entry((node, side)).or_default();
        if !list.contains(&(out, action)) {
            list.push((out, action));
        }
    };
    let sides_of = |e: &Edge| -> (Side, Side) {
        match route(e) {
            Route::Straight => (Side::Bottom, Side::Top),
            Route::Lane => (Side::Left, Side::Left),
            Route::Across => {
                let right = layout.col[e.to] > layout.col[e.from];
                let level = layout.rank[e.to].cmp(&layout.rank[e.from]);
                match (right, level) {
                    (true, std::cmp::Ordering::Equal) => (Side::Right, Side::Left),
                    (false, std::cmp::Ordering::Equal) => (Side::Left, Side::Right),
                    (true, std::cmp::Ordering::Less) => (Side::Right, Side::Bottom),
                    (true, std::cmp::Ordering::Greater) => (Side::Right, Side::Top),
                    (false, std::cmp::Ordering::Less) => (Side::Top, Side::Right),
                    (false, std::cmp::Ordering::Greater) => (Side::Bottom, Side::Right),
                }
            }
        }
    };
    for e in &edges {
        let (s_out, s_in) = sides_of(e);
        if route(e) == Route::Straight {
            straight_sides.push((e.from, s_out));
            straight_sides.push((e.to, s_in));
        } else {
            add(e.from, s_out, true, e.action);
            add(e.to, s_in, false, e.action);
        }
    }
    // Ports along a side; a side holding a straight arrow keeps its centre for it.
    let port_pos = |key: PortKey| -> (f64, f64, usize, usize) {
        let (node, side, out, action) = key;
        let list = &ports[&(node, side)];
        let k = list.iter().position(|p| *p == (out, action)).unwrap_or(0);
        let total = list.len();
        let frac = (k + 1) as f64 / (total + 1) as f64;
        let (x, y, w, h) = (layout.x[node], layout.y[node], BOX_W, BOX_H);
        let pos = match side {
            Side::Left => (x, y + h * frac),
            Side::Right => (x + w, y + h * frac),
            Side::Top | Side::Bottom => {
                let py = if side == Side::Top { y } else { y + h };
                if straight_sides.contains(&(node, side)) {
                    (x + w / 2.0 + (w / 2.0) * frac, py)
                } else {
                    (x + w * frac, py)
                }
            }
        };
        (pos.0, pos.1, k, total)
    };

    let mut body = String::new();
    let mut max_x: f64 = 0.0;
    let mut max_y: f64 = 0.0;
    let mut labelled: Vec<PortKey> = Vec::new();
    let text = |body: &mut String, x: f64, y: f64, anchor: &str, lines: &[&str], class: &str| {
        let _ = write!(
            body,
            r#"<text class="{class}" x="{}" y="{}" text-anchor="{anchor}">"#,
            n(x),
            n(y)
        );
        for (i, line) in lines.iter().enumerate() {
            let dy = if i == 0 { 0.0 } else { SMALL + 3.0 };
            let _ = write!(
                body,
                r#"<tspan x="{}" dy="{}">{}</tspan>"#,
                n(x),
                n(dy),
                esc(line)
            );
        }
        body.push_str("</text>");
    };

    for (i, e) in edges.iter().enumerate() {
        let back = e.to < e.from;
        let label = label_of(e);
        let _ = write!(
            body,
            r#"<g class="edge{}"><title>{}：{} → {}{}</title>"#,
            if back { " back" } else { "" },
            esc(&label),
            esc(states[e.from].label()),
            esc(states[e.to].label()),
            if e.guard.is_empty() {
                String::new()
            } else {
                format!("（{}）", esc(e.guard))
            }
        );
        let (s_out, s_in) = sides_of(e);
        let out_key = (e.from, s_out, true, e.action);
        let in_key = (e.to, s_in, false, e.action);
        match route(e) {
            Route::Straight => {
                let x = layout.cx(e.from);
                let (y1, y2) = (layout.y[e.from] + BOX_H, layout.y[e.to]);
                let _ = write!(
                    body,
                    r#"<path d="M{} {}V{}" marker-end="url(#flow-arrow)"/>"#,
                    n(x),
                    n(y1),
                    n(y2)
                );
                let mut lines = vec![label.as_str()];
                if let Some(note) = e.note {
                    lines.push(note);
                }
                let top = (y1 + y2) / 2.0 - (lines.len() as f64 - 1.0) * (SMALL + 3.0) / 2.0 + 4.0;
                text(&mut body, x + 8.0, top, "start", &lines, "label");
                max_x = max_x.max(x + 8.0 + text_width(&label, SMALL));
            }
            Route::Lane => {
                let (x1, y1, ..) = port_pos(out_key);
                let (x2, y2, ..) = port_pos(in_key);
                let lane = lane_of.get(&i).copied().unwrap_or(0);
                let lx = left - left_stub - LANE_GAP * lane as f64;
                let _ = write!(
                    body,
                    r#"<path d="M{} {}H{}V{}H{}" marker-end="url(#flow-arrow)"/>"#,
                    n(x1),
                    n(y1),
                    n(lx),
                    n(y2),
                    n(x2)
                );
                if !labelled.contains(&out_key) {
                    labelled.push(out_key);
                    text(&mut body, x1 - 6.0, y1 - 5.0, "end", &[&label], "label");
                }
                if let Some(note) = e.note {
                    text(&mut body, x2 - 6.0, y2 - 5.0, "end", &[note], "note");
                }
            }
            Route::Across => {
                let (x1, y1, k1, t1) = port_pos(out_key);
                let (x2, y2, k2, t2) = port_pos(in_key);
                // Above the line for the upper half of a side's ports, below for the rest.
                let off = |k: usize, t: usize| {
                    if t > 1 && k * 2 >= t {
                        SMALL + 4.0
                    } else {
                        -5.0
                    }
                };
                let d = match (s_out, s_in) {
                    (Side::Right, Side::Left) | (Side::Left, Side::Right) => {
                        format!(
                            "M{} {}H{}V{}H{}",
                            n(x1),
                            n(y1),
                            n((x1 + x2) / 2.0),
                            n(y2),
                            n(x2)
                        )
                    }
                    (Side::Right, _) => format!("M{} {}H{}V{}", n(x1), n(y1), n(x2), n(y2)),
                    _ => format!("M{} {}V{}H{}", n(x1), n(y1), n(y2), n(x2)),
                };
                let _ = write!(body, r#"<path d="{d}" marker-end="url(#flow-arrow)"/>"#);
                if !labelled.contains(&out_key) {
                    labelled.push(out_key);
                    match s_out {
                        Side::Right => text(
                            &mut body,
                            x1 + 6.0,
                            y1 + off(k1, t1),
                            "start",
                            &[&label],
                            "label",
                        ),
                        Side::Left => text(
                            &mut body,
                            x1 - 6.0,
                            y1 + off(k1, t1),
                            "end",
                            &[&label],
                            "label",
                        ),
                        // Leaving downwards or upwards towards a box on the left: the label
                        // sits left of the line, away from the lines of the other ports.
                        Side::Bottom => text(
                            &mut body,
                            x1 - 6.0,
                            y1 + SMALL + 4.0,
                            "end",
                            &[&label],
                            "label",
                        ),
                        Side::Top => text(&mut body, x1 - 6.0, y1 - 6.0, "end", &[&label], "label"),
                    }
                    if s_out == Side::Right {
                        max_x = max_x.max(x1 + 6.0 + text_width(&label, SMALL));
                    }
                }
                if let Some(note) = e.note {
                    match s_in {
                        Side::Right => text(
                            &mut body,
                            x2 + 6.0,
                            y2 + off(k2, t2),
                            "start",
                            &[note],
                            "note",
                        ),
                        _ => text(&mut body, x2 + 6.0, y2 - 6.0, "start", &[note], "note"),
                    }
                }
            }
        }
        body.push_str("</g>");
    }

    for i in (0..count).filter(|i| used[*i]) {
        let s = states[i];
        let waiting = match s.waiting_for() {
            "无" => "已办结".to_owned(),
            who => format!("办理：{who}"),
        };
        let (x, y) = (layout.x[i], layout.y[i]);
        let _ = write!(
            body,
            r#"<g class="node state-{}"><rect x="{}" y="{}" width="{}" height="{}" rx="6"/>"#,
            s.code(),
            n(x),
            n(y),
            n(BOX_W),
            n(BOX_H)
        );
        text(
            &mut body,
            layout.cx(i),
            layout.cy(i) - 3.0,
            "middle",
            &[s.label()],
            "state",
        );
        text(
            &mut body,
            layout.cx(i),
            layout.cy(i) + SMALL + 3.0,
            "middle",
            &[&waiting],
            "who",
        );
        body.push_str("</g>");
        max_x = max_x.max(x + BOX_W);
        max_y = max_y.max(y + BOX_H);
    }

    let width = (max_x + PAD).ceil();
    let height = (max_y + PAD).ceil();
    let order: Vec<&str> = (0..count)
        .filter(|i| used[*i])
        .map(|i| states[i].label())
        .collect();
    let mut svg = String::with_capacity(body.len() + 1024);
    let _ = write!(
        svg,
        r#"<svg class="flow" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="flow-title flow-desc" font-size="{fs}">"#,
        w = n(width),
        h = n(height),
        fs = n(FONT)
    );
    let _ = write!(
        svg,
        r#"<title id="flow-title">科技成果登记办理流程图</title><desc id="flow-desc">成果登记依次经过：{}。每个箭头标明操作及办理角色，详见下方流转规则表。</desc>"#,
        esc(&order.join("、"))
    );
    svg.push_str(r#"<defs><marker id="flow-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="arrowhead" d="M0 0L10 5L0 10z"/></marker></defs>"#);
    svg.push_str(&body);
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_transition_of_the_table_is_drawn() {
        let svg = svg();
        for s in State::ALL {
            assert!(
                svg.contains(&format!("class=\"node state-{}\"", s.code())),
                "{s}"
            );
            assert!(svg.contains(s.label()));
        }
        for r in workflow::TABLE {
            let label = format!("{}（{}）", r.action.label(), r.actor.label());
            assert!(svg.contains(&label), "{label}");
        }
        let arrows = svg.matches("marker-end=").count();
        let expected: usize = workflow::TABLE
            .iter()
            .map(|r| match r.to {
                Target::FirstReview => 2,
                Target::State(_) => 1,
            })
            .sum();
        assert_eq!(arrows, expected);
    }

    #[test]
    fn a_smaller_table_gives_a_smaller_diagram() {
        let table = &workflow::TABLE[..3];
        let svg = svg_of(table);
        assert!(!svg.contains("state-decided"));
        assert_eq!(svg.matches("marker-end=").count(), 5);
    }
}
