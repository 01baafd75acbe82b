//! Purchases (customer, item, and optionally the order and its date) from order lines, as
//! numbered customers and items for the recommender, with each line marked when it belongs to
//! its customer's last order (for leave-last-order-out evaluation).

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use super::dates::to_date_expr;
use super::error::{DataError, Result};
use super::workspace::Workspace;

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

/// The columns for `input`: those given, else a workspace's orders roles (key, product,
/// order_id, date, quantity), else customer_id, product, and order_id / order_date when the
/// file has them.
pub fn purchase_columns(
    input: &Path,
    customer: Option<&str>,
    item: Option<&str>,
    order: Option<&str>,
    date: Option<&str>,
) -> Result<PurchaseColumns> {
    let is_workspace = super::workspace::is_workspace(input);
    if is_workspace {
        let ws = Workspace::load(input)?;
        let role = |r: &str| ws.orders_role(r);
        let key = ws.orders_key();
        return Ok(PurchaseColumns {
            customer: customer.map_or(key, str::to_string),
            item: item.map_or_else(|| role("product").unwrap_or_default(), str::to_string),
            order: order.map(str::to_string).or_else(|| role("order_id")),
            date: date.map(str::to_string).or_else(|| role("date")),
            quantity: role("quantity"),
        });
    }
    let s = super::source::scan(input, &super::source::ReadOptions::default())?;
    let has = |c: &str| s.schema.contains(c);
    Ok(PurchaseColumns {
        customer: customer.unwrap_or("customer_id").to_string(),
        item: item.unwrap_or("product").to_string(),
        order: order
            .map(str::to_string)
            .or_else(|| has("order_id").then(|| "order_id".to_string())),
        date: date
            .map(str::to_string)
            .or_else(|| has("order_date").then(|| "order_date".to_string())),
        quantity: has("quantity").then(|| "quantity".to_string()),
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

fn numbered(values: &StringChunked) -> (Vec<String>, Vec<u32>) {
    let mut names: Vec<&str> = values.iter().flatten().collect();
    names.sort_unstable();
    names.dedup();
    let index: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, i as u32))
        .collect();
    let codes = values
        .iter()
        .map(|v| v.map_or(u32::MAX, |v| index[v]))
        .collect();
    (names.into_iter().map(str::to_string).collect(), codes)
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
    let raw = super::baskets::order_lines(input, &wanted)?;
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
    // With orders or dates, an item repeated in one order (or on one day) is one purchase, as
    // in a basket; so a count is the number of orders with the item.
    let df = if cols.order.is_some() || cols.date.is_some() {
        df.unique_stable(None, UniqueKeepStrategy::First, None)
            .map_err(fail)?
    } else {
        df
    };
    if df.height() == 0 {
        return Err(DataError::Invalid(format!(
            "{name}: no purchases: every line lacks `{}` or `{}`, or is a return",
            cols.customer, cols.item
        )));
    }
    let text = |c: &str| -> Result<StringChunked> {
        Ok(df.column(c).map_err(fail)?.str().map_err(fail)?.clone())
    };
    let (customers, user) = numbered(&text("c")?);
    let (items, item) = numbered(&text("i")?);
    let day: Option<Vec<i32>> = match &cols.date {
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
    let in_last_order = if cols.order.is_some() || cols.date.is_some() {
        let orders = match &cols.order {
            Some(_) => Some(text("o")?),
            None => None,
        };
        let days: Option<Int32Chunked> = match &cols.date {
            Some(_) => Some(df.column("d").map_err(fail)?.i32().map_err(fail)?.clone()),
            None => None,
        };
        let key = |k: usize| {
            (
                days.as_ref().and_then(|d| d.get(k)).unwrap_or(i32::MIN),
                orders.as_ref().and_then(|o| o.get(k)).unwrap_or(""),
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
        let cols = purchase_columns(&ws, None, None, None, None).unwrap();
        assert_eq!(cols.item, "product");
        assert_eq!(cols.order.as_deref(), Some("order_id"));
        let p = read_purchases(&ws, &cols).unwrap();
        assert_eq!(p.user.len(), p.item.len());
        // Every line written, less returns and the duplicated lines (each order's products are
        // distinct in the generator, so a repeat within an order is a duplicate line).
        let truth: crate::data::generator::GroundTruth = serde_json::from_str(
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
