//! The bundled sample's workspace file.

/// The workspace written next to generated sample data; it is also the bundled sample's
/// `crmlens.toml`, which `cargo run --release` opens.
pub fn sample_workspace_toml() -> String {
    SAMPLE_WORKSPACE.to_string()
}

const SAMPLE_WORKSPACE: &str = r#"# crmlens workspace for the generated sample CRM data set.
# Paths are relative to this file. `crmlens integrate --workspace crmlens.toml --out c360.parquet`
# builds the customer-360 table; `crmlens crmlens.toml` opens it in the workbench.

[workspace]
name = "sample CRM"
customer_key = "customer_id"
reference_date = "2025-01-01"

[sources.customers]
path = "customers.csv"
dates = { birth_date = ["%Y-%m-%d", "%d/%m/%Y"], signup_date = ["%Y-%m-%d", "%d/%m/%Y"], updated_at = ["%Y-%m-%d", "%d/%m/%Y"] }
schema = { income = "float", churned = "int" }

[sources.orders]
path = "orders.csv"
dates = { order_date = ["%Y-%m-%d"] }

[sources.tickets]
path = "support_tickets.ndjson"
dates = { opened_at = ["%Y-%m-%dT%H:%M:%S"] }

[sources.sessions]
path = "web_sessions.parquet"

[cleaning]
trim_text = true
lowercase = ["email"]
non_negative = ["income"]
not_future = ["birth_date", "signup_date"]
invalid = "null"          # invalid customer values become missing
invalid_lines = "drop"    # order lines with quantity <= 0 or a negative price are dropped
orphans = "drop"          # activity of unknown customers is dropped (and counted)
dedup_activity = true     # exact duplicate order lines, tickets and sessions are removed
dedup = "latest"          # same customer_id: keep the most recent updated_at, then the most complete

[cleaning.missing]
income = "median"
age = "median"                  # birth dates in the future were set missing
gender = "constant:unknown"
recency_days = "max"            # no orders: as lapsed as the most lapsed customer
avg_order_value = "zero"
satisfaction_mean = "median"
resolution_hours_mean = "median"
pages_mean = "zero"
duration_mean_s = "zero"

[features]
numeric = ["recency_days", "frequency", "monetary", "avg_order_value", "distinct_categories", "tenure_days", "tickets", "satisfaction_mean", "sessions", "income", "age"]
categorical = ["channel"]
scaling = "standard"
log1p = ["monetary", "avg_order_value", "income"]
max_categories = 20

[identity]
# A customer list from another system, with its own ids and no customer_id: linked to the
# customers by name, e-mail, phone, birth date and town (the Identity screen, 9).
# ground_truth_identity.csv says which customer each member is.
sources = [{ path = "loyalty_members.csv", key = "member_id" }]
"#;
