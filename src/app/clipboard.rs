//! Copying to the clipboard with OSC 52: `y` copies the selected thing (the Data screen's
//! cell, the Rules screen's rule, the Recommend screen's list), `Y` the Data screen's whole
//! row. The terminal puts the text on the clipboard, so it works over SSH.
//!
//! `update` only builds the text (as the screen shows it: personal data stays masked unless
//! it is shown) and returns [`Command::Copy`]; the event loop writes the escape sequence
//! ([`write`]).

use std::io::{IsTerminal, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::action::Action;
use super::state::{Command, State};
use crate::screens::Screen;
use crate::text::format_cell;

/// Larger copies are refused: terminals drop (or truncate) long OSC 52 sequences.
pub const MAX_BYTES: usize = 100 * 1024;

/// The OSC 52 sequence that sets the clipboard to `text`: `ESC ] 52 ; c ; <base64> BEL`.
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", STANDARD.encode(text))
}

/// Writes [`osc52`] of `text` to stdout when it is a terminal (nothing otherwise).
pub fn write(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    if !out.is_terminal() {
        return Ok(());
    }
    out.write_all(osc52(text).as_bytes())?;
    out.flush()
}

/// The copy keys' handling, or None for other actions.
pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    let Action::CopySelected { row } = action else {
        return None;
    };
    let found = match state.screen {
        Screen::Data => data(state, *row),
        Screen::Rules => rule(state),
        Screen::Recommend => recommendations(state),
        _ => Err("nothing to copy here: y copies on the Data, Rules and Recommend screens".into()),
    };
    Some(match found {
        Ok((what, text)) => copy(state, &what, text),
        Err(e) => {
            state.error = Some(e);
            Vec::new()
        }
    })
}

/// Asks the event loop to copy `text` (described as `what` in the status line), or refuses
/// when it is too large.
pub fn copy(state: &mut State, what: &str, text: String) -> Vec<Command> {
    if text.len() > MAX_BYTES {
        state.error = Some(format!(
            "{what} is too large to copy ({} KB; terminals drop OSC 52 copies over {} KB)",
            text.len().div_ceil(1024),
            MAX_BYTES / 1024
        ));
        return Vec::new();
    }
    state.error = None;
    state.message = Some(format!(
        "copied {what} ({} characters) to the clipboard (OSC 52)",
        text.chars().count()
    ));
    vec![Command::Copy(text)]
}

/// One value of a tab-separated line: tabs and line breaks become spaces.
fn tsv_field(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

/// The Data screen: the selected cell, or (`row`) the selected row as a header line of the
/// column names and a line of the values, tab-separated. Values as the table shows them.
fn data(state: &State, row: bool) -> Result<(String, String), String> {
    let Some(table) = &state.table else {
        return Err("no data loaded".into());
    };
    if state.rows() == 0 {
        return Err("no row to copy".into());
    }
    let at = match &state.data.order {
        Some(order) => order[state.data.row.min(order.len() - 1)] as usize,
        None => state.data.row.min(table.height() - 1),
    };
    let value = |i: usize| {
        let c = &table.columns()[i];
        let text = c.get(at).map(|v| format_cell(&v)).unwrap_or_default();
        state.shown(c.name().as_str(), text)
    };
    let key = value(0);
    if row {
        let names: Vec<String> = table
            .get_column_names()
            .iter()
            .map(|n| tsv_field(n.as_str()))
            .collect();
        let values: Vec<String> = (0..table.width()).map(|i| tsv_field(&value(i))).collect();
        let text = format!("{}\n{}", names.join("\t"), values.join("\t"));
        return Ok((format!("the row of {key}"), text));
    }
    let col = state.data.col.min(table.width() - 1);
    let name = table.get_column_names()[col].to_string();
    Ok((format!("{name} of {key}"), value(col)))
}

/// The selected rule as one line: `A, B => C  support 0.012  confidence 0.450 ...`, the
/// numbers as the rule table shows them.
pub fn rule_line(state: &State) -> Option<String> {
    let run = state.rules.run.as_ref()?;
    let r = state.rules.selected()?;
    let names = &run.baskets.items;
    let side = |ids: &[u32]| crate::analytics::rules::side_text(ids, names, ", ");
    let [support, confidence, lift, leverage, conviction, zhang] =
        crate::screens::rules::metric_cells(r);
    Some(format!(
        "{} => {}  support {}  confidence {}  lift {}  leverage {}  conviction {}  zhang {}  baskets {}",
        side(&r.antecedents),
        side(&r.consequents),
        support,
        confidence,
        lift,
        leverage,
        conviction,
        zhang,
        r.count
    ))
}

fn rule(state: &State) -> Result<(String, String), String> {
    match rule_line(state) {
        Some(line) => Ok((format!("rule {}", state.rules.row + 1), line)),
        None if state.rules.run.is_none() => Err("no rules yet: mine them first (r)".into()),
        None => Err("no rule selected: / changes the filter".into()),
    }
}

/// The selected customer's recommendations as the screen lists them, tab-separated with a
/// header line.
fn recommendations(state: &State) -> Result<(String, String), String> {
    let view = &state.recommend;
    let (Some(m), Some(u)) = (&view.result, view.customer) else {
        return Err("no recommendations yet: build the model first (r)".into());
    };
    if view.recs.is_empty() {
        return Err(format!("no recommendations for {}", m.customers[u]));
    }
    let customer = &m.customers[u];
    let mut lines = vec!["customer\trank\titem\tscore\tbecause you bought".to_string()];
    for (k, r) in view.recs.iter().enumerate() {
        let why = if r.popular {
            "(popular: nothing similar bought)".to_string()
        } else {
            r.because
                .iter()
                .map(|(b, _)| m.items[*b as usize].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        lines.push(
            [
                tsv_field(customer),
                (k + 1).to_string(),
                tsv_field(&m.items[r.item as usize]),
                format!("{:.3}", r.score),
                tsv_field(&why),
            ]
            .join("\t"),
        );
    }
    Ok((
        format!("the top {} for {customer}", view.recs.len()),
        lines.join("\n"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_encodes_the_text_in_base64() {
        // "hello" is aGVsbG8= in base64 (RFC 4648).
        assert_eq!(osc52("hello"), "\x1b]52;c;aGVsbG8=\x07");
        assert_eq!(osc52(""), "\x1b]52;c;\x07");
        // UTF-8 bytes: "é" is C3 A9.
        assert_eq!(osc52("é"), "\x1b]52;c;w6k=\x07");
        assert_eq!(osc52("a\tb\nc"), format!("\x1b]52;c;{}\x07", "YQliCmM="));
    }

    #[test]
    fn large_copies_are_refused_with_a_message() {
        let mut s = State::default();
        let cmds = copy(&mut s, "the row", "x".repeat(MAX_BYTES + 1));
        assert!(cmds.is_empty());
        assert!(
            s.error.as_deref().unwrap().contains("too large"),
            "{:?}",
            s.error
        );
        let cmds = copy(&mut s, "the cell", "abc".into());
        assert!(matches!(cmds.as_slice(), [Command::Copy(t)] if t == "abc"));
        assert_eq!(
            s.message.as_deref(),
            Some("copied the cell (3 characters) to the clipboard (OSC 52)")
        );
        assert!(s.error.is_none());
    }

    #[test]
    fn tsv_fields_lose_tabs_and_line_breaks() {
        assert_eq!(tsv_field("a\tb\nc\r"), "a b c ");
    }
}
