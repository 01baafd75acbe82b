//! Purchase baskets from order lines: a transaction column (an order, or a customer for one
//! basket per customer) and an item column (a product, or a category for category-level
//! rules). Reads a data file for those two columns only, or a workspace's orders source.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use crate::data::error::{DataError, Result};
use crate::data::sources::file::{ReadOptions, collect_source, scan};
use crate::data::sources::workspace::Workspace;

/// The order-lines table of `input` with `columns`: a data file as it is, or for a `.toml`
/// workspace its `[sources.orders]` file. Errors name the file and the columns it has.
pub fn order_lines(input: &Path, columns: &[&str]) -> Result<DataFrame> {
    order_lines_of(input, Some(columns))
}

/// Every column of the order lines of `input` (see [`order_lines`]): what telling two lines
/// apart needs (a dedup over some columns would merge different lines of one order that
/// agree on them).
pub fn all_order_lines(input: &Path) -> Result<DataFrame> {
    order_lines_of(input, None)
}

fn order_lines_of(input: &Path, columns: Option<&[&str]>) -> Result<DataFrame> {
    let is_workspace = crate::data::sources::workspace::is_workspace(input);
    let (path, opts) = if is_workspace {
        let ws = Workspace::load(input)?;
        let Some(orders) = ws.sources.orders.as_ref() else {
            return Err(DataError::Invalid(format!(
                "{}: the workspace has no [sources.orders]; rules need order lines",
                input.display()
            )));
        };
        let opts = ReadOptions {
            try_parse_dates: false,
            ..orders.read_options()
        };
        (ws.base_dir.join(&orders.path), opts)
    } else {
        (input.to_path_buf(), ReadOptions::default())
    };
    let s = scan(&path, &opts)?;
    let Some(columns) = columns else {
        return collect_source(&s.path, s.frame);
    };
    for c in columns {
        if !s.schema.contains(c) {
            let have: Vec<String> = s.schema.iter_names().map(|n| n.to_string()).collect();
            return Err(DataError::Invalid(format!(
                "{}: no column `{c}`; the file has: {}",
                path.display(),
                have.join(", ")
            )));
        }
    }
    // One column for two roles (say the order and the item) would make polars refuse the
    // selection with "projections contained duplicate output name".
    if let Some(c) = columns
        .iter()
        .enumerate()
        .find(|(i, c)| columns[..*i].contains(c))
        .map(|(_, c)| *c)
    {
        return Err(DataError::Invalid(format!(
            "{}: column `{c}` is given for two roles; each role (customer, order, item, date, amount) needs a column of its own",
            path.display()
        )));
    }
    let picked: Vec<Expr> = columns.iter().map(|c| col(*c)).collect();
    collect_source(&s.path, s.frame.select(picked))
}

/// The basket and item columns for mining `input` (a data file, or a workspace's orders):
/// those given, else by the columns' roles (see [`crate::data::sources::roles`]): baskets per
/// order, else per customer and day (a log without order ids: one visit a day), else per
/// customer; `per_customer` asks for one basket per customer. Items are the item role, or the
/// category with `by_category`. Returns the basket columns (one, or customer and date) and the
/// item column.
pub fn basket_columns(
    input: &Path,
    per_customer: bool,
    by_category: bool,
    transaction: Option<&str>,
    item: Option<&str>,
    given: &[(crate::data::sources::roles::Role, Option<String>)],
) -> Result<(Vec<String>, String)> {
    use crate::data::sources::roles::{self, Role};
    let roles = match (transaction, item) {
        (Some(_), Some(_)) => roles::Roles::default(),
        _ => roles::of_input_given(input, given)?,
    };
    let flags = "--transaction-col and --item-col";
    let need = |r: Role| -> Result<String> {
        roles
            .get(r)
            .map(str::to_string)
            .ok_or_else(|| roles::missing_error(input, "rules", &roles, &[r], flags))
    };
    let basket = match transaction {
        Some(t) => vec![t.to_string()],
        None if per_customer => vec![need(Role::Customer)?],
        None => match (
            roles.get(Role::Order),
            roles.get(Role::Customer),
            roles.get(Role::Date),
        ) {
            (Some(o), _, _) => vec![o.to_string()],
            (None, Some(c), Some(d)) => vec![c.to_string(), d.to_string()],
            (None, Some(c), None) => vec![c.to_string()],
            (None, None, _) => {
                return Err(roles::missing_error(
                    input,
                    "rules",
                    &roles,
                    &[Role::Order],
                    flags,
                ));
            }
        },
    };
    let item = match item {
        Some(i) => i.to_string(),
        None => need(if by_category {
            Role::Category
        } else {
            Role::Item
        })?,
    };
    Ok((basket, item))
}

/// `table` with the basket key in [`BASKET`]: the one basket column as it is, or several
/// joined (a customer's day: `c1|2024-01-31`).
pub fn with_basket_key(table: DataFrame, basket: &[String]) -> Result<DataFrame> {
    let parts: Vec<Expr> = basket
        .iter()
        .map(|c| col(c.as_str()).cast(DataType::String))
        .collect();
    table
        .lazy()
        .with_column(concat_str(parts, "|", false).alias(BASKET))
        .collect()
        .map_err(|e| DataError::polars("building baskets", e))
}

/// The basket key column [`with_basket_key`] adds.
pub const BASKET: &str = "__basket";

/// Baskets from `table`'s `transaction` and `item` columns (both read as text); rows with
/// either value missing are skipped. Errors when nothing is left.
pub fn baskets(table: &DataFrame, transaction: &str, item: &str) -> Result<Baskets> {
    let text = |name: &str| -> Result<Column> {
        table
            .column(name)
            .map_err(|e| DataError::polars(format!("column `{name}`"), e))?
            .cast(&DataType::String)
            .map_err(|e| DataError::polars(format!("column `{name}`"), e))
    };
    let (t, i) = (text(transaction)?, text(item)?);
    let (t, i) = (
        t.str().map_err(|e| DataError::polars("transactions", e))?,
        i.str().map_err(|e| DataError::polars("items", e))?,
    );
    let pairs = t.iter().zip(i.iter()).filter_map(|(a, b)| Some((a?, b?)));
    let b = Baskets::from_pairs(pairs);
    if b.is_empty() {
        return Err(DataError::Invalid(format!(
            "no baskets: every row lacks {} or `{item}` (or there are no rows)",
            if transaction == BASKET {
                "a basket key".to_string()
            } else {
                format!("`{transaction}`")
            }
        )));
    }
    Ok(b)
}

/// Baskets (transactions) as sets of interned items, in CSR form: basket `t` holds
/// `data[offsets[t]..offsets[t + 1]]`, ascending and without duplicates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Baskets {
    /// Item names by id.
    pub items: Vec<String>,
    /// Basket keys (order or customer ids) by basket number, when built from named pairs.
    pub keys: Vec<String>,
    pub offsets: Vec<usize>,
    pub data: Vec<u32>,
}

impl Baskets {
    /// Builds baskets from (basket key, item) pairs in any order; an item repeated within a
    /// basket counts once. Baskets are numbered in order of first appearance; item ids are
    /// given in alphabetical order of the names, so ids sort like names.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Baskets {
        let hasher = || foldhash::fast::FixedState::with_seed(11);
        let mut basket_of: HashMap<&str, usize, _> = HashMap::with_hasher(hasher());
        let mut item_of: HashMap<&str, u32, _> = HashMap::with_hasher(hasher());
        let mut names: Vec<&str> = Vec::new();
        let mut rows: Vec<(usize, u32)> = Vec::new();
        for (b, i) in pairs {
            let next = basket_of.len();
            let b = *basket_of.entry(b).or_insert(next);
            let next = names.len() as u32;
            let i = *item_of.entry(i).or_insert_with(|| {
                names.push(i);
                next
            });
            rows.push((b, i));
        }
        // Re-number items alphabetically.
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_by(|a, b| names[*a as usize].cmp(names[*b as usize]));
        let mut new_id = vec![0u32; names.len()];
        for (new, old) in order.iter().enumerate() {
            new_id[*old as usize] = new as u32;
        }
        let items = order
            .iter()
            .map(|o| names[*o as usize].to_string())
            .collect();
        let mut keys = vec![String::new(); basket_of.len()];
        for (k, b) in basket_of {
            keys[b] = k.to_string();
        }
        let mut out = Self::from_ids(
            items,
            keys.len(),
            rows.into_iter().map(|(b, i)| (b, new_id[i as usize])),
        );
        out.keys = keys;
        out
    }

    /// Builds baskets from (basket number < n_baskets, item id) pairs. CSR by counting sort:
    /// no allocation per basket, so millions of baskets build quickly.
    pub fn from_ids(
        items: Vec<String>,
        n_baskets: usize,
        pairs: impl IntoIterator<Item = (usize, u32)>,
    ) -> Baskets {
        let pairs: Vec<(usize, u32)> = pairs.into_iter().collect();
        let mut offsets = vec![0usize; n_baskets + 1];
        for &(b, _) in &pairs {
            offsets[b + 1] += 1;
        }
        for t in 0..n_baskets {
            offsets[t + 1] += offsets[t];
        }
        let mut cursor = offsets.clone();
        let mut data = vec![0u32; pairs.len()];
        for (b, i) in pairs {
            data[cursor[b]] = i;
            cursor[b] += 1;
        }
        // Sort and de-duplicate each basket, compacting in place (the write position never
        // passes the read position).
        let mut write = 0;
        let mut new_offsets = Vec::with_capacity(n_baskets + 1);
        new_offsets.push(0);
        for t in 0..n_baskets {
            let (start, end) = (offsets[t], offsets[t + 1]);
            data[start..end].sort_unstable();
            let mut last = None;
            for r in start..end {
                let v = data[r];
                if last != Some(v) {
                    data[write] = v;
                    write += 1;
                    last = Some(v);
                }
            }
            new_offsets.push(write);
        }
        data.truncate(write);
        Baskets {
            items,
            keys: Vec::new(),
            offsets: new_offsets,
            data,
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn basket(&self, t: usize) -> &[u32] {
        &self.data[self.offsets[t]..self.offsets[t + 1]]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u32]> {
        (0..self.len()).map(|t| self.basket(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basket_columns_follow_the_workspace_roles() {
        let ws =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data/crmlens.toml");
        assert_eq!(
            basket_columns(&ws, false, false, None, None, &[]).unwrap(),
            (vec!["order_id".to_string()], "product".to_string())
        );
        assert_eq!(
            basket_columns(&ws, true, true, None, None, &[]).unwrap(),
            (vec!["customer_id".to_string()], "category".to_string())
        );
    }

    #[test]
    fn baskets_from_a_frame_skip_missing_values() {
        let df = df!(
            "order" => [Some("o1"), Some("o1"), Some("o2"), None, Some("o3")],
            "product" => [Some("tea"), Some("cup"), Some("tea"), Some("cup"), None],
        )
        .unwrap();
        let b = baskets(&df, "order", "product").unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.items, vec!["cup", "tea"]);
        assert_eq!(b.basket(0), &[0, 1]);
        let empty = df!("order" => [None::<&str>], "product" => [Some("tea")]).unwrap();
        assert!(baskets(&empty, "order", "product").is_err());
    }
}
