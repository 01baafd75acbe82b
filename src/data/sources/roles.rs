//! Column roles: which column of a source plays which part (the customer id, the order or
//! basket id, the line id, the date, the item, its category, the quantity, the unit price,
//! the amount = line total), found from the columns' names, types and values, each with the
//! reason it was chosen, so that every analysis reads a real file whatever its columns are
//! called. A role the analyst gives (a workspace's `[sources.orders.columns]`, a command's
//! column flag) always wins over one found here.
//!
//! Names are read as words (`InvoiceNo` is "invoice no", `TRANSACTION_DT` "transaction dt",
//! `number_of_cds` "number of cds"); values settle what names cannot: a column of dates is
//! the date whatever its name, and an `id` whose values repeat in a file with dates is the
//! customer of a transaction log. Our own code: no crate on the registries maps columns to
//! commerce roles (Orange's domain editor and VisiData's column types are the spirit).

use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::error::{DataError, Result};
use crate::data::sources::file::{ReadOptions, malformed_error, scan};
use crate::data::sources::workspace::{RoleColumns, Workspace};

/// Rows looked at to find the roles.
const SAMPLE_ROWS: u32 = 10_000;

/// A part a column can play in order lines or a transaction log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Order,
    Line,
    Date,
    Item,
    Category,
    Quantity,
    UnitPrice,
    Amount,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Customer,
        Role::Order,
        Role::Line,
        Role::Date,
        Role::Item,
        Role::Category,
        Role::Quantity,
        Role::UnitPrice,
        Role::Amount,
    ];

    /// The role's name in a workspace's `[sources.orders.columns]` (the customer is the
    /// source's `key`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Order => "order_id",
            Role::Line => "line_id",
            Role::Date => "date",
            Role::Item => "product",
            Role::Category => "category",
            Role::Quantity => "quantity",
            Role::UnitPrice => "unit_price",
            Role::Amount => "amount",
        }
    }

    /// The role by its workspace name (or `item`, `key`).
    pub fn parse(name: &str) -> Option<Role> {
        match name.trim().to_ascii_lowercase().as_str() {
            "item" => Some(Role::Item),
            "key" | "customer_id" => Some(Role::Customer),
            n => Role::ALL.into_iter().find(|r| r.name() == n),
        }
    }

    /// What the role is, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Role::Customer => "customer id",
            Role::Order => "order (basket) id",
            Role::Line => "line id",
            Role::Date => "date",
            Role::Item => "item (product)",
            Role::Category => "category",
            Role::Quantity => "quantity",
            Role::UnitPrice => "unit price",
            Role::Amount => "amount (line total)",
        }
    }
}

/// The analyst's word on roles (the role editor, a workspace): a column for a role, or
/// `None` for "no column plays it".
pub type Given = Vec<(Role, Option<String>)>;

/// One column given a role, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assigned {
    pub role: Role,
    pub column: String,
    /// Why: "given", "name", "a date column", "values repeat ..." and so on.
    pub why: String,
    /// Given by the analyst (workspace or flag) rather than found.
    pub given: bool,
}

/// The roles of one source's columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Roles {
    pub assigned: Vec<Assigned>,
    /// How the date column's text is written (chrono formats), when it is text or numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub date_formats: Vec<String>,
}

impl Roles {
    /// The column playing `role`.
    pub fn get(&self, role: Role) -> Option<&str> {
        self.assigned
            .iter()
            .find(|a| a.role == role)
            .map(|a| a.column.as_str())
    }

    /// Gives `role` to `column` (the analyst's word: it replaces what was found, and the
    /// column loses any other role found for it).
    pub fn give(&mut self, role: Role, column: &str) {
        self.assigned
            .retain(|a| a.role != role && (a.given || a.column != column));
        self.assigned.push(Assigned {
            role,
            column: column.to_string(),
            why: "given".into(),
            given: true,
        });
        self.assigned.sort_by_key(|a| a.role);
    }

    /// Takes `role` away (the analyst's "none").
    pub fn clear(&mut self, role: Role) {
        self.assigned.retain(|a| a.role != role);
    }

    /// Applies the analyst's choices in order.
    pub fn apply(&mut self, given: &[(Role, Option<String>)]) {
        for (role, column) in given {
            match column {
                Some(c) => self.give(*role, c),
                None => self.clear(*role),
            }
        }
    }

    /// The roles among `needed` that no column plays.
    pub fn missing(&self, needed: &[Role]) -> Vec<Role> {
        needed
            .iter()
            .copied()
            .filter(|r| self.get(*r).is_none())
            .collect()
    }

    /// One line: `customer = id (name), date = date (a date column), ...`.
    pub fn summary(&self) -> String {
        if self.assigned.is_empty() {
            return "no roles found".into();
        }
        self.assigned
            .iter()
            .map(|a| format!("{} = `{}` ({})", a.role.name(), a.column, a.why))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether these columns make a transaction log: a customer, a date and an amount (or a
    /// quantity and a unit price).
    pub fn is_transaction_log(&self) -> bool {
        self.get(Role::Customer).is_some()
            && self.get(Role::Date).is_some()
            && (self.get(Role::Amount).is_some() || self.get(Role::UnitPrice).is_some())
    }
}

/// A column name as lower-case words: `InvoiceNo` -> [invoice, no], `TRANSACTION_DT` ->
/// [transaction, dt], `number_of_cds` -> [number, of, cds], ` given name` -> [given, name].
pub fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        // A lower-to-upper step (customerId) or the end of an upper run (IDNumber) starts a
        // word; so does a letter-digit change (address2 stays one: digits join the word).
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let starts = match prev {
            Some(p) if p.is_lowercase() && c.is_uppercase() => true,
            Some(p) if p.is_uppercase() && c.is_uppercase() => next.is_some_and(char::is_lowercase),
            _ => false,
        };
        if starts && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

const ID_WORDS: [&str; 9] = [
    "id", "no", "nr", "num", "number", "key", "code", "ref", "uid",
];
const DATE_WORDS: [&str; 7] = ["date", "dt", "time", "timestamp", "datetime", "day", "ts"];
const CUSTOMER_WORDS: [&str; 14] = [
    "customer",
    "customerid",
    "cust",
    "client",
    "user",
    "userid",
    "member",
    "account",
    "buyer",
    "shopper",
    "household",
    "consumer",
    "patron",
    "subscriber",
];
const ORDER_WORDS: [&str; 11] = [
    "order",
    "orderid",
    "invoice",
    "invoiceno",
    "transaction",
    "trans",
    "txn",
    "basket",
    "receipt",
    "bill",
    "tid",
];
const ITEM_WORDS: [&str; 14] = [
    "product",
    "productid",
    "item",
    "items",
    "itemdescription",
    "sku",
    "stockcode",
    "stock",
    "article",
    "description",
    "goods",
    "barcode",
    "ean",
    "upc",
];
const CATEGORY_WORDS: [&str; 9] = [
    "category",
    "categories",
    "subclass",
    "class",
    "department",
    "aisle",
    "family",
    "genre",
    "subcategory",
];
const QUANTITY_WORDS: [&str; 8] = [
    "quantity", "qty", "units", "pieces", "pcs", "count", "cnt", "bought",
];
const AMOUNT_WORDS: [&str; 17] = [
    "amount", "amt", "total", "revenue", "sales", "sale", "value", "spend", "spent", "monetary",
    "net", "gross", "payment", "paid", "turnover", "subtotal", "dollars",
];

/// The role a column's name says, and how surely (2: the role's own words, 1: a hint).
fn by_name(name: &str) -> Option<(Role, u8)> {
    let w = words(name);
    let has = |list: &[&str]| w.iter().any(|x| list.contains(&x.as_str()));
    let id = has(&ID_WORDS);
    if w.is_empty() {
        return None;
    }
    if has(&["line"]) && id {
        return Some((Role::Line, 2));
    }
    // A date word wins over the thing dated (TRANSACTION_DT, order_date, created_at).
    if has(&DATE_WORDS) || w.last().is_some_and(|l| l == "at" || l == "on") && w.len() > 1 {
        return Some((Role::Date, 2));
    }
    if has(&QUANTITY_WORDS)
        || w.first()
            .is_some_and(|f| f == "number" || f == "num" || f == "n")
            && w.len() > 1
            && !id
    {
        return Some((Role::Quantity, 2));
    }
    if has(&["price", "unitprice", "rate"]) {
        // A total price is a line total.
        return Some(if has(&["total", "line", "sum"]) {
            (Role::Amount, 2)
        } else {
            (Role::UnitPrice, 2)
        });
    }
    if has(&CATEGORY_WORDS) || has(&ITEM_WORDS) && has(&["type", "group"]) {
        return Some((Role::Category, 2));
    }
    // A customer or an order word alone or with an id word (`account_length` is neither).
    let alone = w.len() == 1;
    if has(&CUSTOMER_WORDS) && (id || alone) {
        return Some((Role::Customer, 2));
    }
    if has(&ORDER_WORDS) && (id || alone) {
        return Some((Role::Order, 2));
    }
    if has(&ITEM_WORDS) || has(&["name", "title"]) && w.len() == 1 {
        return Some((Role::Item, if has(&ITEM_WORDS) { 2 } else { 1 }));
    }
    if has(&AMOUNT_WORDS) {
        return Some((Role::Amount, 2));
    }
    None
}

/// Whether a column's name says it holds dates (a date word: date, dt, time, day, ...).
pub fn date_like_name(name: &str) -> bool {
    matches!(by_name(name), Some((Role::Date, _)))
}

/// Whether a role can be played by a column of `dtype`.
fn fits(role: Role, dtype: &DataType) -> bool {
    let numeric = dtype.is_primitive_numeric();
    match role {
        Role::Date => {
            matches!(dtype, DataType::Date | DataType::Datetime(_, _))
                || dtype.is_integer()
                || *dtype == DataType::String
        }
        Role::Quantity | Role::UnitPrice | Role::Amount => numeric,
        Role::Customer | Role::Order | Role::Line | Role::Item | Role::Category => {
            dtype.is_integer() || *dtype == DataType::String || dtype.is_categorical()
        }
    }
}

/// Rows per distinct value of a column (1.0: all distinct).
fn repeats(c: &Column) -> f64 {
    let n = c.len() - c.null_count();
    match c.n_unique() {
        Ok(u) if u > 0 && n > 0 => {
            n as f64 / u.saturating_sub(usize::from(c.null_count() > 0)).max(1) as f64
        }
        _ => 1.0,
    }
}

/// The roles of `sample`'s columns (a source's first rows, as read): by name, type and
/// values. Each column plays one role at most; each role is played by one column at most,
/// the surest first (then the leftmost).
pub fn detect(sample: &DataFrame) -> Roles {
    let mut roles = Roles::default();
    // (role, sureness, column index, why)
    let mut found: Vec<(Role, u8, usize, String)> = Vec::new();
    let columns = sample.columns();
    for (i, c) in columns.iter().enumerate() {
        let name = c.name().as_str();
        let dtype = c.dtype();
        if matches!(dtype, DataType::Date | DataType::Datetime(_, _)) {
            found.push((Role::Date, 3, i, "a date column".into()));
            continue;
        }
        if let Some((role, sure)) = by_name(name)
            && fits(role, dtype)
        {
            let mut why = format!("name `{}`", name.trim());
            if role == Role::Date {
                // A date by name must read as dates.
                let values: Vec<String> = c
                    .cast(&DataType::String)
                    .ok()
                    .and_then(|s| {
                        s.str()
                            .ok()
                            .map(|s| s.iter().flatten().map(str::to_string).collect())
                    })
                    .unwrap_or_default();
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                match crate::data::dates::infer_formats(
                    &refs,
                    crate::data::sources::reading::MIN_SHARE,
                ) {
                    Some(r) => {
                        why = format!("{why}, dates written {}", r.formats.join(" / "));
                        if roles.date_formats.is_empty() {
                            roles.date_formats = r.formats;
                        }
                    }
                    None => continue,
                }
            }
            found.push((role, sure, i, why));
        }
    }
    // A customer from the values: an id whose values repeat, in a file with dates (a log).
    let has_date = found.iter().any(|f| f.0 == Role::Date);
    if has_date && !found.iter().any(|f| f.0 == Role::Customer) {
        let taken: Vec<usize> = found.iter().map(|f| f.2).collect();
        if let Some((i, c)) = columns.iter().enumerate().find(|(i, c)| {
            !taken.contains(i)
                && crate::data::integrate::profile::id_like_name(c.name().trim())
                && fits(Role::Customer, c.dtype())
                && repeats(c) >= 1.2
        }) {
            found.push((
                Role::Customer,
                1,
                i,
                format!(
                    "id `{}` repeats ({:.1} lines per value)",
                    c.name().trim(),
                    repeats(c)
                ),
            ));
        }
    }
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let mut used: Vec<usize> = Vec::new();
    for (role, _, i, why) in found {
        if used.contains(&i) || roles.get(role).is_some() {
            continue;
        }
        used.push(i);
        roles.assigned.push(Assigned {
            role,
            column: columns[i].name().to_string(),
            why,
            given: false,
        });
    }
    // The date's formats belong to the column chosen.
    if let Some(d) = roles.get(Role::Date)
        && sample
            .column(d)
            .is_ok_and(|c| matches!(c.dtype(), DataType::Date | DataType::Datetime(_, _)))
    {
        roles.date_formats.clear();
    }
    roles.assigned.sort_by_key(|a| a.role);
    roles
}

/// The roles of a data file's columns, found on its first rows.
pub fn of_file(path: &Path, opts: &ReadOptions) -> Result<Roles> {
    let s = scan(path, opts)?;
    let head = s
        .frame
        .limit(SAMPLE_ROWS)
        .collect()
        .map_err(|e| malformed_error(&s.path, &e))?;
    Ok(detect(&head))
}

/// The roles of a workspace's orders source: those its `key` and `[sources.orders.columns]`
/// give, the sample's default names where the file has them, and the rest found.
pub fn of_orders(ws: &Workspace) -> Result<Roles> {
    let Some(orders) = ws.sources.orders.as_ref() else {
        return Err(DataError::Invalid(format!(
            "{}: the workspace has no [sources.orders]; this analysis needs order lines or transactions",
            ws.file.display()
        )));
    };
    let path = ws.resolve(orders);
    let s = scan(&path, &orders.read_options())?;
    let head = s
        .frame
        .limit(SAMPLE_ROWS)
        .collect()
        .map_err(|e| malformed_error(&s.path, &e))?;
    let mut roles = detect(&head);
    let has = |c: &str| s.schema.contains(c);
    for (name, default) in RoleColumns::ORDERS {
        if let Some(role) = Role::parse(name)
            && has(default)
            && !orders.columns.contains_key(*name)
            && roles.get(role) != Some(default)
        {
            roles.give(role, default);
            set_why(&mut roles, role, "default name", false);
        }
    }
    let key = ws.orders_key();
    if has(&key) {
        roles.give(Role::Customer, &key);
        set_why(&mut roles, Role::Customer, "the workspace's key", true);
    }
    for (name, column) in &orders.columns {
        if let Some(role) = Role::parse(name) {
            roles.give(role, column);
            set_why(&mut roles, role, "[sources.orders.columns]", true);
        }
    }
    Ok(roles)
}

fn set_why(roles: &mut Roles, role: Role, why: &str, given: bool) {
    if let Some(a) = roles.assigned.iter_mut().find(|a| a.role == role) {
        a.why = why.into();
        a.given = given;
    }
}

/// The roles of `input`: a workspace's orders source, or a data file.
pub fn of_input(input: &Path) -> Result<Roles> {
    if crate::data::sources::workspace::is_workspace(input) {
        of_orders(&Workspace::load(input)?)
    } else {
        of_file(input, &ReadOptions::default())
    }
}

/// The columns of `input`'s order lines (a data file, or a workspace's orders source).
pub fn columns_of(input: &Path) -> Result<Vec<String>> {
    let s = if crate::data::sources::workspace::is_workspace(input) {
        let ws = Workspace::load(input)?;
        let Some(orders) = ws.sources.orders.as_ref() else {
            return Ok(Vec::new());
        };
        scan(&ws.resolve(orders), &orders.read_options())?
    } else {
        scan(input, &ReadOptions::default())?
    };
    Ok(s.schema.iter_names().map(|n| n.to_string()).collect())
}

/// [`of_input`] with the analyst's choices applied.
pub fn of_input_given(input: &Path, given: &[(Role, Option<String>)]) -> Result<Roles> {
    let mut roles = of_input(input)?;
    roles.apply(given);
    Ok(roles)
}

/// The one-line error for roles an analysis needs that no column plays: what is missing,
/// what was found, and how to say it (the command's flags, the Sources screen's role editor).
pub fn missing_error(
    input: &Path,
    what: &str,
    roles: &Roles,
    missing: &[Role],
    flags: &str,
) -> DataError {
    let names: Vec<&str> = missing.iter().map(|r| r.describe()).collect();
    DataError::Invalid(format!(
        "{}: {what} needs a column for {}, and none was found (found: {}); name it with {flags} (in the workbench: o, then r for the column roles), or in a workspace's [sources.orders.columns]",
        input.display(),
        names.join(" and "),
        roles.summary()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles_of(df: &DataFrame) -> Vec<(Role, String)> {
        detect(df)
            .assigned
            .into_iter()
            .map(|a| (a.role, a.column))
            .collect()
    }

    #[test]
    fn names_are_read_as_words() {
        assert_eq!(words("InvoiceNo"), ["invoice", "no"]);
        assert_eq!(words("TRANSACTION_DT"), ["transaction", "dt"]);
        assert_eq!(words("customerID"), ["customer", "id"]);
        assert_eq!(words(" given_name"), ["given", "name"]);
        assert_eq!(words("number_of_cds"), ["number", "of", "cds"]);
        assert_eq!(words("IDNumber"), ["id", "number"]);
    }

    #[test]
    fn roles_of_real_headers() {
        // UCI Online Retail's header.
        let df = df!(
            "InvoiceNo" => ["536365", "536365"],
            "StockCode" => ["85123A", "71053"],
            "Description" => ["WHITE HANGING HEART", "WHITE METAL LANTERN"],
            "Quantity" => [6i64, 6],
            "InvoiceDate" => ["12/1/2010 8:26", "12/13/2010 9:01"],
            "UnitPrice" => [2.55, 3.39],
            "CustomerID" => [17850i64, 17850],
            "Country" => ["United Kingdom", "United Kingdom"]
        )
        .unwrap();
        let r = detect(&df);
        assert_eq!(
            roles_of(&df),
            vec![
                (Role::Customer, "CustomerID".to_string()),
                (Role::Order, "InvoiceNo".into()),
                (Role::Date, "InvoiceDate".into()),
                (Role::Item, "StockCode".into()),
                (Role::Quantity, "Quantity".into()),
                (Role::UnitPrice, "UnitPrice".into()),
            ]
        );
        assert_eq!(r.date_formats, vec!["%m/%d/%Y %H:%M".to_string()]);
        assert!(r.is_transaction_log());
        // CDNOW as pymc-marketing ships it: two ids, no customer word, yyyymmdd numbers.
        let df = df!(
            "_id" => [4i64, 4, 4, 18],
            "id" => [1i64, 1, 1, 2],
            "date" => [19970101i64, 19970118, 19970802, 19970101],
            "cds_bought" => [2i64, 2, 1, 1],
            "spent" => [29.33, 29.73, 14.96, 11.77]
        )
        .unwrap();
        let r = detect(&df);
        assert_eq!(
            roles_of(&df),
            vec![
                (Role::Customer, "_id".to_string()),
                (Role::Date, "date".into()),
                (Role::Quantity, "cds_bought".into()),
                (Role::Amount, "spent".into()),
            ]
        );
        assert_eq!(r.date_formats, vec!["%Y%m%d".to_string()]);
        assert!(r.assigned[0].why.contains("repeats"), "{}", r.summary());
        // A basket file.
        let df = df!("basket_id" => [1i64, 1, 2], "item" => ["milk", "bread", "milk"]).unwrap();
        assert_eq!(
            roles_of(&df),
            vec![
                (Role::Order, "basket_id".to_string()),
                (Role::Item, "item".into())
            ]
        );
        // Line totals by name; a total price is one too.
        for name in [
            "value",
            "total",
            "revenue",
            "sales",
            "dollar_value",
            "TotalPrice",
        ] {
            let df = df!("customer_id" => ["a"], name => [1.5]).unwrap();
            assert_eq!(detect(&df).get(Role::Amount), Some(name), "{name}");
        }
        // A date word that does not read as dates is not the date.
        let df = df!("update_day" => ["monday", "friday"]).unwrap();
        assert_eq!(detect(&df).get(Role::Date), None);
        // A customer word with no id word is something else.
        let df = df!("account_length" => [128i64, 107]).unwrap();
        assert_eq!(detect(&df).get(Role::Customer), None);
    }

    #[test]
    fn given_roles_replace_found_ones() {
        let df =
            df!("AMOUNT" => [2i64, 1], "SALES_PRICE" => [30i64, 46], "CUSTOMER_ID" => ["01", "02"])
                .unwrap();
        let mut r = detect(&df);
        assert_eq!(r.get(Role::Amount), Some("AMOUNT"));
        assert_eq!(r.get(Role::UnitPrice), Some("SALES_PRICE"));
        r.give(Role::Quantity, "AMOUNT");
        r.give(Role::Amount, "SALES_PRICE");
        assert_eq!(r.get(Role::Quantity), Some("AMOUNT"));
        assert_eq!(r.get(Role::Amount), Some("SALES_PRICE"));
        assert_eq!(r.get(Role::UnitPrice), None);
        assert_eq!(r.missing(&[Role::Customer, Role::Date]), vec![Role::Date]);
        assert_eq!(Role::parse("item"), Some(Role::Item));
        assert_eq!(Role::parse("unit_price"), Some(Role::UnitPrice));
    }
}
