//! Purchases (customer, item, and optionally the order and its date) from order lines, as
//! numbered customers and items for the recommender, with each line marked when it belongs to
//! its customer's last order (for leave-last-order-out evaluation).

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

use crate::data::dates::to_date_expr;
use crate::data::error::{DataError, Result};

/// The columns of the order lines.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseColumns {
    pub customer: String,
    pub item: String,
    pub order: Option<String>,
    pub date: Option<String>,
    /// Lines with quantity <= 0 (returns) are left out when there is one.
    pub quantity: Option<String>,
}

/// The columns for `input` (a data file, or a workspace's orders): those given, else by
/// the columns' roles (see [`crate::data::sources::roles`]): customer and item needed, order,
/// date and quantity when there are such columns.
pub fn purchase_columns(
    input: &Path,
    customer: Option<&str>,
    item: Option<&str>,
    order: Option<&str>,
    date: Option<&str>,
    given: &[(crate::data::sources::roles::Role, Option<String>)],
) -> Result<PurchaseColumns> {
    use crate::data::sources::roles::{self, Role};
    let roles = roles::of_input_given(input, given)?;
    let found = |r: Role| roles.get(r).map(str::to_string);
    let need = |given: Option<&str>, r: Role| -> Result<String> {
        given
            .map(str::to_string)
            .or_else(|| found(r))
            .ok_or_else(|| {
                roles::missing_error(
                    input,
                    "recommendations",
                    &roles,
                    &[r],
                    "--customer-col / --item-col",
                )
            })
    };
    Ok(PurchaseColumns {
        customer: need(customer, Role::Customer)?,
        item: need(item, Role::Item)?,
        order: order.map(str::to_string).or_else(|| found(Role::Order)),
        date: date.map(str::to_string).or_else(|| found(Role::Date)),
        quantity: found(Role::Quantity),
    })
}

/// Numbered purchases, one entry per order line kept (per order and item when there are
/// orders or dates).
#[derive(Debug, Clone, PartialEq)]
pub struct Purchases {
    /// Customer ids by number (sorted).
    pub customers: Vec<String>,
    /// Item names by number (sorted).
    pub items: Vec<String>,
    pub user: Vec<u32>,
    pub item: Vec<u32>,
    /// Whether each line is in its customer's last order (latest date, then highest order
    /// id); None without an order or date column.
    pub in_last_order: Option<Vec<bool>>,
    /// Each line's day (days since 1970-01-01), when there is a date column.
    pub day: Option<Vec<i32>>,
}

/// Distinct values in sorted order, and each value's number in that order (u32::MAX for a
/// null). Codes are assigned through a hash map first, so only the distinct values are
/// sorted.
fn numbered(values: &StringChunked) -> (Vec<String>, Vec<u32>) {
    let mut first: HashMap<&str, u32> = HashMap::new();
    let codes: Vec<u32> = values
        .iter()
        .map(|v| {
            v.map_or(u32::MAX, |v| {
                let n = first.len() as u32;
                *first.entry(v).or_insert(n)
            })
        })
        .collect();
    let mut names: Vec<(&str, u32)> = first.into_iter().collect();
    names.sort_unstable();
    let mut rank = vec![0u32; names.len()];
    for (r, (_, c)) in names.iter().enumerate() {
        rank[*c as usize] = r as u32;
    }
    let codes = codes
        .into_iter()
        .map(|c| if c == u32::MAX { c } else { rank[c as usize] })
        .collect();
    (
        names.into_iter().map(|(n, _)| n.to_string()).collect(),
        codes,
    )
}

/// Reads the order lines of `input` (a file or a workspace's orders) for `cols`; lines without
/// a customer or item, and returns (quantity <= 0), are left out; with an order or date
/// column, repeats of an item in one order (duplicate lines) count once.
pub fn read_purchases(input: &Path, cols: &PurchaseColumns) -> Result<Purchases> {
    let mut wanted = vec![cols.customer.as_str(), cols.item.as_str()];
    for c in [&cols.order, &cols.date, &cols.quantity]
        .into_iter()
        .flatten()
    {
        wanted.push(c.as_str());
    }
    let raw = crate::data::features::baskets::order_lines(input, &wanted)?;
    let name = input.display().to_string();
    let fail = |e: PolarsError| DataError::polars(&name, e);
    let mut keep = col(cols.customer.as_str())
        .is_not_null()
        .and(col(cols.item.as_str()).is_not_null());
    if let Some(q) = &cols.quantity {
        keep = keep.and(col(q.as_str()).cast(DataType::Float64).gt(lit(0.0)));
    }
    let mut select = vec![
        col(cols.customer.as_str())
            .cast(DataType::String)
            .alias("c"),
        col(cols.item.as_str()).cast(DataType::String).alias("i"),
    ];
    if let Some(o) = &cols.order {
        select.push(col(o.as_str()).cast(DataType::String).alias("o"));
    }
    if let Some(d) = &cols.date {
        let dtype = raw.column(d).map_err(fail)?.dtype().clone();
        select.push(
            to_date_expr(d, &dtype, &[])
                .cast(DataType::Int32)
                .alias("d"),
        );
    }
    let df = raw
        .lazy()
        .filter(keep)
        .select(select)
        .collect()
        .map_err(fail)?;
    if df.height() == 0 {
        return Err(DataError::Invalid(format!(
            "{name}: no purchases: every line lacks `{}` or `{}`, or is a return",
            cols.customer, cols.item
        )));
    }
    let text = |c: &str| -> Result<StringChunked> {
        Ok(df.column(c).map_err(fail)?.str().map_err(fail)?.clone())
    };
    let (customers, mut user) = numbered(&text("c")?);
    let (items, mut item) = numbered(&text("i")?);
    // Order ids numbered in sorted order, so comparing codes compares the ids.
    let mut order: Option<Vec<u32>> = match &cols.order {
        Some(_) => Some(numbered(&text("o")?).1),
        None => None,
    };
    let mut day: Option<Vec<i32>> = match &cols.date {
        Some(_) => Some(
            df.column("d")
                .map_err(fail)?
                .i32()
                .map_err(fail)?
                .iter()
                .map(|d| d.unwrap_or(i32::MIN))
                .collect(),
        ),
        None => None,
    };
    drop(df);
    // With orders or dates, an item repeated in one order (or on one day) is one purchase, as
    // in a basket; so a count is the number of orders with the item. Lines keep file order.
    if order.is_some() || day.is_some() {
        let key = |k: usize| {
            (
                user[k],
                item[k],
                order.as_ref().map_or(0, |o| o[k]),
                day.as_ref().map_or(0, |d| d[k]),
            )
        };
        let mut idx: Vec<u32> = (0..user.len() as u32).collect();
        idx.par_sort_unstable_by_key(|&k| (key(k as usize), k));
        let mut keep = vec![false; user.len()];
        for (j, &k) in idx.iter().enumerate() {
            keep[k as usize] = j == 0 || key(idx[j - 1] as usize) != key(k as usize);
        }
        drop(idx);
        let kept = |v: &mut Vec<u32>| {
            let mut j = 0;
            v.retain(|_| {
                j += 1;
                keep[j - 1]
            });
        };
        kept(&mut user);
        kept(&mut item);
        if let Some(o) = order.as_mut() {
            kept(o);
        }
        if let Some(d) = day.as_mut() {
            let mut j = 0;
            d.retain(|_| {
                j += 1;
                keep[j - 1]
            });
        }
    }
    let in_last_order = if order.is_some() || day.is_some() {
        let key = |k: usize| {
            (
                day.as_ref().map_or(i32::MIN, |d| d[k]),
                order.as_ref().map_or(0, |o| o[k]),
            )
        };
        let mut last: Vec<Option<usize>> = vec![None; customers.len()];
        for (k, &u) in user.iter().enumerate() {
            let slot = &mut last[u as usize];
            if slot.is_none_or(|b| key(k) > key(b)) {
                *slot = Some(k);
            }
        }
        Some(
            user.iter()
                .enumerate()
                .map(|(k, &u)| last[u as usize].is_some_and(|b| key(b) == key(k)))
                .collect(),
        )
    } else {
        None
    };
    Ok(Purchases {
        customers,
        items,
        user,
        item,
        in_last_order,
        day,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_purchases_and_last_orders() {
        let ws =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data/crmlens.toml");
        let cols = purchase_columns(&ws, None, None, None, None, &[]).unwrap();
        assert_eq!(cols.item, "product");
        assert_eq!(cols.order.as_deref(), Some("order_id"));
        let p = read_purchases(&ws, &cols).unwrap();
        assert_eq!(p.user.len(), p.item.len());
        // Every line written, less returns and the duplicated lines (each order's products are
        // distinct in the generator, so a repeat within an order is a duplicate line).
        let truth: crate::data::sources::generator::GroundTruth = serde_json::from_str(
            &std::fs::read_to_string(ws.with_file_name("ground_truth.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            p.user.len(),
            truth.order_lines_written
                - truth.nonpositive_quantity_lines
                - truth.duplicate_order_lines
        );
        let last = p.in_last_order.as_ref().unwrap();
        // Every customer has exactly one last order: its lines share the order id.
        assert!(last.iter().any(|b| *b) && last.iter().any(|b| !*b));
        assert!(p.items.windows(2).all(|w| w[0] < w[1]));
    }
}
