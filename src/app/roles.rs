//! The role editor (`r` in the source picker): which column of the session's order lines
//! plays each role (customer, order, line, date, item, category, quantity, unit price,
//! amount), as found from names, types and values (`data::sources::roles`), with the reason,
//! and the analyst's changes. `j`/`k` choose a role, `h`/`l` its column (or none), Enter keeps
//! the choices for Rules, CLV and Recommend (and, for a workspace, for Ctrl-S to save under
//! `[sources.orders]`), Esc leaves them as they were. The roles are found on the worker thread.

use std::path::PathBuf;

use crate::data::sources::roles::{Given, Role, Roles};

use super::action::Action;
use super::job::JobRequest;
use super::state::{Command, Overlay, State};

/// The session's role choices, and the editor while it is open.
#[derive(Debug, Default)]
pub struct RolesView {
    /// The analyst's choices, applied over the roles found in the order lines of `input`.
    pub given: Given,
    pub input: Option<PathBuf>,
    pub editing: Option<RoleEdit>,
}

impl RolesView {
    /// The choices for `input` (none for another source than the one they were made on).
    pub fn given_for(&self, input: &std::path::Path) -> Given {
        if self.input.as_deref() == Some(input) {
            self.given.clone()
        } else {
            Vec::new()
        }
    }
}

/// The open editor.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleEdit {
    pub input: PathBuf,
    /// The roles found, before the analyst's choices.
    pub found: Roles,
    pub columns: Vec<String>,
    /// The selected role (index into [`Role::ALL`]).
    pub cursor: usize,
    /// Per role (as [`Role::ALL`]): the chosen column (index into `columns`), or none.
    pub choice: Vec<Option<usize>>,
}

impl RoleEdit {
    /// The editor over `found` with the session's `given` choices applied.
    pub fn new(input: PathBuf, found: Roles, columns: Vec<String>, given: &Given) -> RoleEdit {
        let mut shown = found.clone();
        shown.apply(given);
        let choice = Role::ALL
            .iter()
            .map(|r| {
                shown
                    .get(*r)
                    .and_then(|c| columns.iter().position(|x| x == c))
            })
            .collect();
        RoleEdit {
            input,
            found,
            columns,
            cursor: 0,
            choice,
        }
    }

    /// The column chosen for `role`.
    pub fn column(&self, i: usize) -> Option<&str> {
        self.choice[i].map(|c| self.columns[c].as_str())
    }

    /// Why role `i` has its column: found (and the reason), or the analyst's choice.
    pub fn why(&self, i: usize) -> String {
        let role = Role::ALL[i];
        let found = self.found.get(role);
        match (self.column(i), found) {
            (Some(c), Some(f)) if c == f => self
                .found
                .assigned
                .iter()
                .find(|a| a.role == role)
                .map(|a| a.why.clone())
                .unwrap_or_default(),
            (None, None) => "none found".into(),
            (None, Some(_)) => "none (your choice)".into(),
            (Some(_), _) => "your choice".into(),
        }
    }

    /// The choices that differ from what was found.
    pub fn given(&self) -> Given {
        Role::ALL
            .iter()
            .enumerate()
            .filter(|(i, r)| self.column(*i) != self.found.get(**r))
            .map(|(i, r)| (*r, self.column(i).map(str::to_string)))
            .collect()
    }
}

/// A key of the open editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolesKey {
    Up,
    Down,
    /// The previous or next column for the selected role (none comes first).
    Prev,
    Next,
    /// Keep the choices.
    Apply,
}

/// Opens the editor: finds the order lines' roles on the worker thread.
pub fn open(state: &mut State) -> Vec<Command> {
    let Some(input) = state.order_lines_input() else {
        return Vec::new();
    };
    state.start_job(JobRequest::FindRoles { input })
}

/// The roles arrived: the editor opens on them.
pub fn found(state: &mut State, input: PathBuf, found: Roles, columns: Vec<String>) {
    let given = state.roles.given_for(&input);
    state.roles.editing = Some(RoleEdit::new(input, found, columns, &given));
    state.overlay = Some(Overlay::Roles);
}

/// The editor's keys; None for other actions.
pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    let Action::Roles(key) = action else {
        return None;
    };
    let Some(edit) = state.roles.editing.as_mut() else {
        return Some(Vec::new());
    };
    let n = edit.columns.len();
    match key {
        RolesKey::Up => edit.cursor = edit.cursor.saturating_sub(1),
        RolesKey::Down => edit.cursor = (edit.cursor + 1).min(Role::ALL.len() - 1),
        RolesKey::Next => {
            let c = &mut edit.choice[edit.cursor];
            *c = match *c {
                None if n > 0 => Some(0),
                Some(i) if i + 1 < n => Some(i + 1),
                _ => None,
            };
        }
        RolesKey::Prev => {
            let c = &mut edit.choice[edit.cursor];
            *c = match *c {
                None => n.checked_sub(1),
                Some(0) => None,
                Some(i) => Some(i - 1),
            };
        }
        RolesKey::Apply => {
            let given = edit.given();
            let input = edit.input.clone();
            state.overlay = None;
            state.roles.editing = None;
            // A workspace keeps them for Ctrl-S: the orders source's key and columns.
            if let Some(ws) = state.workspace.as_mut()
                && let Some(orders) = ws.sources.orders.as_mut()
            {
                for (role, column) in &given {
                    match (role, column) {
                        (Role::Customer, Some(c)) => orders.key = Some(c.clone()),
                        (r, Some(c)) => {
                            orders.columns.insert(r.name().to_string(), c.clone());
                        }
                        (r, None) => {
                            orders.columns.remove(r.name());
                        }
                    }
                }
            }
            state.message = Some(if given.is_empty() {
                "column roles as found; Rules, CLV and Recommend read them".into()
            } else {
                let list: Vec<String> = given
                    .iter()
                    .map(|(r, c)| format!("{} = {}", r.name(), c.as_deref().unwrap_or("none")))
                    .collect();
                format!(
                    "column roles set ({}); Rules, CLV and Recommend read them when run (r)",
                    list.join(", ")
                )
            });
            state.roles.given = given.clone();
            state.roles.input = Some(input.clone());
            // The data file shown is the one edited: it is read again with these roles, so a
            // transaction log's customer table follows them (a file they make a log, or no
            // longer one, changes with them). Rules, CLV and Recommend read them anyway.
            let shown = state.sources.shown_entry().and_then(|e| match &e.target {
                super::sources::Target::Source { path, options }
                    if *path == input && options.table.is_none() && options.url.is_none() =>
                {
                    Some(e.target.request())
                }
                _ => None,
            });
            if let Some(request) = shown {
                crate::data::integrate::log::set_session_roles(&input, given);
                return Some(state.load(request));
            }
        }
    }
    Some(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sources::roles::detect;
    use polars::prelude::*;

    #[test]
    fn choices_differ_from_what_was_found_and_can_be_none() {
        // Ta-Feng's header: AMOUNT is a quantity and SALES_PRICE a line total.
        let df = df!(
            "TRANSACTION_DT" => ["11/1/2000", "11/13/2000"],
            "CUSTOMER_ID" => ["01104905", "00418683"],
            "PRODUCT_ID" => ["4710199010372", "4710857472535"],
            "AMOUNT" => [2i64, 1],
            "SALES_PRICE" => [30i64, 46]
        )
        .unwrap();
        let found = detect(&df);
        let columns: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let mut e = RoleEdit::new("t.csv".into(), found.clone(), columns, &Vec::new());
        assert!(e.given().is_empty());
        let at = |r: Role| Role::ALL.iter().position(|x| *x == r).unwrap();
        assert_eq!(e.column(at(Role::Amount)), Some("AMOUNT"));
        assert!(e.why(at(Role::Amount)).contains("name"));
        // Amount -> SALES_PRICE (column 4), quantity -> AMOUNT (column 3), unit price -> none.
        e.choice[at(Role::Amount)] = Some(4);
        e.choice[at(Role::Quantity)] = Some(3);
        e.choice[at(Role::UnitPrice)] = None;
        let given = e.given();
        assert_eq!(
            given,
            vec![
                (Role::Quantity, Some("AMOUNT".to_string())),
                (Role::UnitPrice, None),
                (Role::Amount, Some("SALES_PRICE".to_string())),
            ]
        );
        assert_eq!(e.why(at(Role::Amount)), "your choice");
        let mut applied = found;
        applied.apply(&given);
        assert_eq!(applied.get(Role::Amount), Some("SALES_PRICE"));
        assert_eq!(applied.get(Role::Quantity), Some("AMOUNT"));
        assert_eq!(applied.get(Role::UnitPrice), None);
        // Reopened with those choices, the editor shows them.
        let cols: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let again = RoleEdit::new("t.csv".into(), detect(&df), cols, &given);
        assert_eq!(again.column(at(Role::Amount)), Some("SALES_PRICE"));
        assert_eq!(again.given(), given);
    }
}
