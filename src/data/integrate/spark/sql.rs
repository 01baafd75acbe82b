//! The Spark SQL the per-customer aggregation sends: quoted names and literals, dates in
//! the workspace's formats, and one query per activity role.

use super::*;

/// `name` as a Spark SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `s` as a Spark SQL string literal.
pub(crate) fn text_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A chrono (strftime) date format as a Spark datetime pattern, for the specifiers dates are
/// written with; `None` names one it cannot translate.
pub fn spark_pattern(chrono: &str) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut literal = String::new();
    let flush = |out: &mut String, literal: &mut String| {
        if !literal.is_empty() {
            out.push('\'');
            out.push_str(&literal.replace('\'', "''"));
            out.push('\'');
            literal.clear();
        }
    };
    let mut chars = chrono.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            if c.is_ascii_alphabetic() || c == '\'' {
                literal.push(c);
            } else {
                flush(&mut out, &mut literal);
                out.push(c);
            }
            continue;
        }
        let Some(spec) = chars.next() else {
            return Err("ends with a lone %".into());
        };
        let p = match spec {
            'Y' => "yyyy",
            'y' => "yy",
            'm' => "MM",
            'd' => "dd",
            'e' => "d",
            'H' => "HH",
            'M' => "mm",
            'S' => "ss",
            'b' | 'h' => "MMM",
            'B' => "MMMM",
            'F' => "yyyy-MM-dd",
            'T' => "HH:mm:ss",
            'R' => "HH:mm",
            '%' => {
                flush(&mut out, &mut literal);
                out.push('%');
                continue;
            }
            other => return Err(format!("%{other} has no Spark equivalent here")),
        };
        flush(&mut out, &mut literal);
        out.push_str(p);
    }
    flush(&mut out, &mut literal);
    Ok(out)
}

/// The Spark expression of a source column as a date, as [`crate::data::dates::to_date_expr`] does
/// locally: dates as they are, timestamps cut to the day, text parsed by the formats in order.
pub(super) fn date_sql(input: &ActivityInput, c: &str) -> Result<String> {
    let q = ident(c);
    Ok(match input.schema.get(c) {
        Some(DataType::Date) => q,
        Some(DataType::Datetime(_, _)) => format!("CAST({q} AS DATE)"),
        Some(DataType::String) | None => {
            let formats: Vec<String> = if input.date_formats.is_empty() {
                DEFAULT_FORMATS.iter().map(|s| s.to_string()).collect()
            } else {
                input.date_formats.clone()
            };
            let mut attempts = Vec::new();
            for f in &formats {
                let p = spark_pattern(f).map_err(|why| {
                    DataError::Invalid(format!(
                        "{}: date format `{f}` of `{c}`: {why} (the Spark engine translates %Y %y %m %d %e %H %M %S %b %B %F %T %R)",
                        input.path.display()
                    ))
                })?;
                attempts.push(format!(
                    "CAST(try_to_timestamp({q}, {}) AS DATE)",
                    text_literal(&p)
                ));
            }
            if attempts.len() == 1 {
                attempts.remove(0)
            } else {
                format!("coalesce({})", attempts.join(", "))
            }
        }
        Some(_) => "CAST(NULL AS DATE)".to_string(),
    })
}

pub(super) fn number(c: &str) -> String {
    format!("try_cast({} AS DOUBLE)", ident(c))
}

/// The query for one source and the columns (name, type) it returns, in the local engine's
/// order.
pub struct RoleQuery {
    pub sql: String,
    pub columns: Vec<(String, DataType)>,
    pub rules: Vec<RuleColumn>,
    pub features: Vec<(String, bool)>,
}

/// The common head of every source's query: the used columns with the customer key trimmed
/// and mapped (`__key`), rows without a key left out, and exact duplicates counted away
/// (`__n` copies of each distinct row).
pub(super) fn distinct_rows(
    input: &ActivityInput,
    view: &str,
    dedup: bool,
    key_map: bool,
) -> String {
    let raw: Vec<String> = used_columns(input).iter().map(|c| ident(c)).collect();
    let raw = raw.join(", ");
    // Trimmed as polars' strip_chars() does: Unicode white space at both ends.
    let key = format!(
        "regexp_replace(CAST({} AS STRING), '^\\\\p{{IsWhite_Space}}+|\\\\p{{IsWhite_Space}}+$', '')",
        ident(&input.key)
    );
    let mapped = if key_map {
        format!(
            "SELECT s.*, coalesce(m.`new`, s.__k0) AS __key FROM (SELECT {raw}, {key} AS __k0 FROM {view}) s \
             LEFT JOIN {KEY_MAP_VIEW} m ON s.__k0 = m.`old`"
        )
    } else {
        format!("SELECT {raw}, {key} AS __key FROM {view}")
    };
    if dedup {
        format!(
            "SELECT __key, {raw}, count(*) AS __n FROM ({mapped}) WHERE __key IS NOT NULL GROUP BY __key, {raw}"
        )
    } else {
        format!("SELECT __key, {raw}, 1 AS __n FROM ({mapped}) WHERE __key IS NOT NULL")
    }
}

/// The Spark SQL of one source's per-customer aggregation.
pub fn role_query(
    input: &ActivityInput,
    view: &str,
    plan: &AggregationPlan,
    key_map: bool,
) -> Result<RoleQuery> {
    let rows = distinct_rows(
        input,
        view,
        input.duplicates == super::super::aggregate::Duplicates::Remove,
        key_map,
    );
    let u = DataType::UInt64;
    let mut columns = vec![
        (KEY.to_string(), DataType::String),
        (READ.to_string(), u.clone()),
        (DISTINCT.to_string(), u.clone()),
        (KEPT.to_string(), u.clone()),
    ];
    if input.role == Role::Orders {
        let date = role_col(input, "date").unwrap_or("order_date");
        let d = date_sql(input, date)?;
        let bad_qty = role_col(input, "quantity").map_or("false".into(), |q| {
            format!("({0} IS NULL OR {0} <= 0)", number(q))
        });
        // A line total (the amount role) wins over quantity x unit price.
        let total = role_col(input, "amount");
        let bad_price = total
            .or(role_col(input, "unit_price"))
            .map_or("false".into(), |p| {
                format!("({0} IS NULL OR {0} < 0)", number(p))
            });
        let amount = match (
            total,
            role_col(input, "quantity"),
            role_col(input, "unit_price"),
        ) {
            (Some(a), _, _) => number(a),
            (None, Some(q), Some(p)) => format!("{} * {}", number(q), number(p)),
            (None, None, Some(p)) => number(p),
            _ => "CAST(NULL AS DOUBLE)".into(),
        };
        let order = match role_col(input, "order_id") {
            Some(o) => format!("CAST({} AS STRING)", ident(o)),
            // Without an order id, each distinct date is one order.
            None => format!("CAST({d} AS STRING)"),
        };
        let category = role_col(input, "category").map_or("CAST(NULL AS STRING)".into(), |c| {
            format!("CAST({} AS STRING)", ident(c))
        });
        let keep = match plan.invalid_lines {
            InvalidPolicy::Drop => "NOT __bad_date AND NOT (__bq OR __bp)",
            InvalidPolicy::Null => "NOT __bad_date",
        };
        let prepared = format!(
            "SELECT __key, __n, __date, __bad_date, __bq, __bp, __amount, __order, __cat, {keep} AS __keep FROM (\
             SELECT __key, __n, __date, __date IS NULL AS __bad_date, __bq, NOT __bq AND {bad_price} AS __bp, \
             {amount} AS __amount, {order} AS __order, {category} AS __cat FROM (\
             SELECT *, {d} AS __date, {bad_qty} AS __bq FROM ({rows})))"
        );
        let mut select = vec![
            "__key".to_string(),
            "sum(__n) AS __read".into(),
            "count(*) AS __distinct".into(),
            "count_if(__keep) AS __kept".into(),
            "count_if(__bad_date) AS __n_bad_date".into(),
            "count_if(NOT __bad_date AND __bq) AS __n_bad_qty".into(),
            "count_if(NOT __bad_date AND __bp) AS __n_bad_price".into(),
            // Sets, not count(DISTINCT): two distinct counts make Spark expand every line
            // into one copy per count and shuffle them all; a customer's orders fit a set.
            "size(collect_set(CASE WHEN __keep THEN __order END)) AS frequency".into(),
            "coalesce(sum(CASE WHEN __keep AND NOT (__bq OR __bp) THEN __amount END), 0D) AS monetary".into(),
            "min(CASE WHEN __keep THEN __date END) AS first_order".into(),
            "max(CASE WHEN __keep THEN __date END) AS last_order".into(),
        ];
        for c in ["__n_bad_date", "__n_bad_qty", "__n_bad_price", "frequency"] {
            columns.push((c.into(), u.clone()));
        }
        columns.push(("monetary".into(), DataType::Float64));
        columns.push(("first_order".into(), DataType::Date));
        columns.push(("last_order".into(), DataType::Date));
        if role_col(input, "category").is_some() {
            select.push(
                "size(collect_set(CASE WHEN __keep THEN __cat END)) AS distinct_categories".into(),
            );
            columns.push(("distinct_categories".into(), u.clone()));
        }
        return Ok(RoleQuery {
            sql: format!(
                "SELECT {} FROM ({prepared}) GROUP BY __key",
                select.join(", ")
            ),
            columns,
            rules: order_rules(input, plan.invalid_lines),
            features: order_features(input),
        });
    }

    let (count, last, means) = other_outputs(input.role);
    let mut prepared = vec!["__key".to_string(), "__n".to_string()];
    let mut rules = Vec::new();
    match role_col(input, "date") {
        Some(d) => {
            let parsed = date_sql(input, d)?;
            prepared.push(format!("{parsed} AS __date"));
            prepared.push(format!(
                "({} IS NOT NULL AND {parsed} IS NULL) AS __bad_date",
                ident(d)
            ));
            rules.push(date_rule(d));
        }
        None => {
            prepared.push("CAST(NULL AS DATE) AS __date".into());
            prepared.push("false AS __bad_date".into());
        }
    }
    let mut produced = Vec::new();
    let mut select = vec![
        "__key".to_string(),
        "sum(__n) AS __read".into(),
        "count(*) AS __distinct".into(),
        "count(*) AS __kept".into(),
        "count_if(__bad_date) AS __n_bad_date".into(),
        format!("count(*) AS {}", ident(count)),
    ];
    columns.push(("__n_bad_date".into(), u.clone()));
    columns.push((count.into(), u.clone()));
    for (role, out, lo, hi) in means {
        let Some(c) = role_col(input, role) else {
            continue;
        };
        let j = produced.len();
        let v = number(c);
        let bad = if hi.is_infinite() {
            format!("coalesce({v} < {lo:?}D, false)")
        } else {
            format!("coalesce({v} < {lo:?}D OR {v} > {hi:?}D, false)")
        };
        prepared.push(format!("{v} AS __v{j}"));
        prepared.push(format!("{bad} AS __badv{j}"));
        select.push(format!("count_if(__badv{j}) AS __n__bad_{j}"));
        select.push(format!(
            "avg(CASE WHEN NOT __badv{j} THEN __v{j} END) AS {}",
            ident(out)
        ));
        columns.push((format!("__n__bad_{j}"), u.clone()));
        columns.push((out.to_string(), DataType::Float64));
        rules.push(mean_rule(j, c, *lo, *hi));
        produced.push(out.to_string());
    }
    select.push(format!("max(__date) AS {}", ident(last)));
    columns.push((last.into(), DataType::Date));
    Ok(RoleQuery {
        sql: format!(
            "SELECT {} FROM (SELECT {} FROM ({rows})) GROUP BY __key",
            select.join(", "),
            prepared.join(", ")
        ),
        columns,
        rules,
        features: other_features(input, count, last, &produced),
    })
}
