//! The fixed world the generator draws from: product catalogue, planted co-purchase rules,
//! customer segments and their behaviour, names and cities.

pub(super) const CATEGORIES: [&str; 8] = [
    "electronics",
    "computing",
    "office",
    "home",
    "kitchen",
    "outdoor",
    "apparel",
    "grocery",
];

pub(super) struct Product {
    pub name: &'static str,
    pub category: usize,
    pub price_cents: u32,
    /// Base popularity (before segment preferences).
    pub popularity: f64,
    /// Mean extra units per line (quantity = 1 + Poisson(qty_extra x segment factor)).
    pub qty_extra: f64,
}

const fn p(
    name: &'static str,
    category: usize,
    price_cents: u32,
    popularity: f64,
    qty_extra: f64,
) -> Product {
    Product {
        name,
        category,
        price_cents,
        popularity,
        qty_extra,
    }
}

/// 61 products (at most 64: an order's products are kept as a bit set).
pub(super) const PRODUCTS: &[Product] = &[
    p("Smartphone", 0, 64900, 3.0, 0.02),
    p("Phone Case", 0, 1999, 5.0, 0.1),
    p("Phone Charger", 0, 2499, 5.0, 0.15),
    p("Wireless Earbuds", 0, 12900, 4.0, 0.03),
    p("Bluetooth Speaker", 0, 5999, 3.0, 0.03),
    p("Smartwatch", 0, 24900, 2.0, 0.02),
    p("4K Television", 0, 79900, 1.2, 0.0),
    p("Tablet", 0, 39900, 1.8, 0.02),
    p("HDMI Cable", 0, 999, 4.0, 0.3),
    p("Laptop", 1, 99900, 2.2, 0.0),
    p("Laptop Bag", 1, 4999, 2.5, 0.02),
    p("Wireless Mouse", 1, 2499, 5.0, 0.1),
    p("Mechanical Keyboard", 1, 8999, 2.0, 0.02),
    p("USB-C Hub", 1, 3999, 3.0, 0.1),
    p("External SSD", 1, 10900, 2.0, 0.05),
    p("Monitor 27in", 1, 27900, 1.5, 0.1),
    p("Webcam", 1, 6999, 1.5, 0.02),
    p("Laser Printer", 2, 19900, 2.0, 0.0),
    p("Ink Cartridge", 2, 3499, 5.0, 0.8),
    p("Copy Paper A4", 2, 549, 7.0, 1.5),
    p("Desk Lamp", 2, 3499, 2.0, 0.05),
    p("Office Chair", 2, 18900, 1.2, 0.02),
    p("Notebook Set", 2, 1299, 4.0, 0.6),
    p("Gel Pens 10-pack", 2, 699, 5.0, 0.8),
    p("Stapler", 2, 849, 2.0, 0.1),
    p("Bed Linen Set", 3, 5999, 2.5, 0.3),
    p("Bath Towel", 3, 1499, 4.0, 1.0),
    p("Scented Candle", 3, 1249, 4.0, 0.8),
    p("Vacuum Cleaner", 3, 17900, 1.5, 0.0),
    p("Air Purifier", 3, 14900, 1.2, 0.0),
    p("Throw Cushion", 3, 1999, 3.0, 0.6),
    p("Storage Box", 3, 999, 3.5, 1.2),
    p("Espresso Machine", 4, 34900, 1.8, 0.0),
    p("Chef Knife", 4, 4999, 2.0, 0.02),
    p("Non-stick Pan", 4, 3999, 2.5, 0.1),
    p("Blender", 4, 7999, 1.8, 0.0),
    p("Kettle", 4, 3499, 2.5, 0.0),
    p("Toaster", 4, 2999, 2.0, 0.0),
    p("Dinnerware Set", 4, 6499, 1.5, 0.1),
    p("Tent", 5, 22900, 1.6, 0.0),
    p("Sleeping Bag", 5, 8999, 1.8, 0.3),
    p("Hiking Boots", 5, 12900, 2.0, 0.0),
    p("Camping Stove", 5, 5499, 1.5, 0.0),
    p("Water Bottle", 5, 1499, 4.0, 0.5),
    p("Backpack 40L", 5, 9900, 2.0, 0.0),
    p("Headlamp", 5, 2499, 2.5, 0.3),
    p("T-Shirt", 6, 1499, 6.0, 1.0),
    p("Jeans", 6, 4999, 4.0, 0.3),
    p("Hoodie", 6, 3999, 4.0, 0.2),
    p("Running Shoes", 6, 8999, 3.0, 0.02),
    p("Rain Jacket", 6, 7999, 2.0, 0.0),
    p("Socks 5-pack", 6, 999, 5.0, 0.8),
    p("Wool Scarf", 6, 2499, 2.0, 0.1),
    p("Coffee Beans", 7, 1299, 6.0, 1.0),
    p("Green Tea", 7, 499, 5.0, 1.0),
    p("Olive Oil", 7, 899, 4.0, 0.8),
    p("Pasta 1kg", 7, 249, 6.0, 2.0),
    p("Dark Chocolate", 7, 299, 6.0, 1.5),
    p("Granola", 7, 449, 4.0, 1.0),
    p("Sparkling Water 12-pack", 7, 599, 4.0, 1.0),
    p("Honey", 7, 649, 3.0, 0.3),
];

/// A planted co-purchase pattern: when an order contains `antecedent`, its `consequents`
/// are added according to `joint` (bit i of the mask = consequent i), and are never drawn
/// at random into that order, so the conditional probabilities are exactly the intended ones.
pub(super) struct PlantedGroup {
    pub antecedent: &'static str,
    pub consequents: &'static [&'static str],
    /// (mask of consequents added, probability); the remainder adds none.
    pub joint: &'static [(u8, f64)],
}

pub(super) const PLANTED: &[PlantedGroup] = &[
    PlantedGroup {
        antecedent: "Laser Printer",
        consequents: &["Ink Cartridge"],
        joint: &[(0b1, 0.70)],
    },
    PlantedGroup {
        antecedent: "Smartphone",
        consequents: &["Phone Case", "Phone Charger"],
        joint: &[(0b11, 0.45), (0b01, 0.15), (0b10, 0.15)],
    },
    PlantedGroup {
        antecedent: "Laptop",
        consequents: &["Laptop Bag", "Wireless Mouse"],
        joint: &[(0b11, 0.40), (0b01, 0.15), (0b10, 0.15)],
    },
    PlantedGroup {
        antecedent: "Espresso Machine",
        consequents: &["Coffee Beans"],
        joint: &[(0b1, 0.65)],
    },
    PlantedGroup {
        antecedent: "Tent",
        consequents: &["Sleeping Bag"],
        joint: &[(0b1, 0.60)],
    },
];

/// A planted follow-up across orders: once a customer has bought `trigger`, each later order
/// adds `follow_up` with probability `per_order` until they have bought it. Neither product
/// is part of a [`PLANTED`] group, so the within-order rules keep their confidences.
pub(super) struct FollowUp {
    pub trigger: &'static str,
    pub follow_up: &'static str,
    pub per_order: f64,
}

pub(super) const FOLLOW_UPS: &[FollowUp] = &[
    FollowUp {
        trigger: "4K Television",
        follow_up: "HDMI Cable",
        per_order: 0.35,
    },
    FollowUp {
        trigger: "Laptop",
        follow_up: "Monitor 27in",
        per_order: 0.30,
    },
    FollowUp {
        trigger: "Laptop",
        follow_up: "External SSD",
        per_order: 0.25,
    },
    FollowUp {
        trigger: "Smartphone",
        follow_up: "Wireless Earbuds",
        per_order: 0.30,
    },
    FollowUp {
        trigger: "Smartphone",
        follow_up: "Smartwatch",
        per_order: 0.20,
    },
    FollowUp {
        trigger: "Tent",
        follow_up: "Hiking Boots",
        per_order: 0.30,
    },
    FollowUp {
        trigger: "Tent",
        follow_up: "Headlamp",
        per_order: 0.30,
    },
    FollowUp {
        trigger: "Laser Printer",
        follow_up: "Desk Lamp",
        per_order: 0.25,
    },
    FollowUp {
        trigger: "Espresso Machine",
        follow_up: "Dinnerware Set",
        per_order: 0.20,
    },
];

/// Taste beyond the segment: this share of customers has a favourite category (drawn
/// uniformly), whose products weigh FAVOURITE_BOOST times more in every order they place.
pub(super) const P_FAVOURITE: f64 = 0.75;
pub(super) const FAVOURITE_BOOST: f64 = 8.0;

pub(super) const SEGMENT_NAMES: [&str; 5] = ["vip", "loyal", "occasional", "bargain", "lapsed"];
pub(super) const VIP: usize = 0;
pub(super) const OCCASIONAL: usize = 2;
pub(super) const BARGAIN: usize = 3;
pub(super) const LAPSED: usize = 4;

/// How a latent segment behaves. Days are counted from 2023-01-01 (day 0).
pub(super) struct Segment {
    pub share: f64,
    /// Signup day range (inclusive).
    pub signup: (i64, i64),
    /// Orders = min_orders + Poisson(order_rate x activity x window fraction).
    pub min_orders: u32,
    pub order_rate: f64,
    /// Weights of 1..=5 lines per order.
    pub lines: [f64; 5],
    /// Product weight multiplier (list price / 30)^price_alpha.
    pub price_alpha: f64,
    pub category_affinity: [f64; 8],
    pub qty_factor: f64,
    /// (probability a line is discounted, min %, max %), in steps of 5%.
    pub discount: (f64, i64, i64),
    pub ticket_rate: f64,
    pub satisfaction: f64,
    pub session_rate: f64,
    /// Median annual income in pounds.
    pub income: f64,
    pub churn_effect: f64,
    /// web, store, phone, partner.
    pub channel: [f64; 4],
    /// Mean age in years at the reference date.
    pub age: f64,
}

pub(super) const SEGMENTS: [Segment; 5] = [
    Segment {
        share: 0.08,
        signup: (-1461, 180),
        min_orders: 8,
        order_rate: 14.0,
        lines: [0.25, 0.30, 0.23, 0.13, 0.09],
        price_alpha: 0.35,
        category_affinity: [1.5, 1.5, 1.0, 1.0, 1.2, 1.2, 1.0, 0.7],
        qty_factor: 1.6,
        discount: (0.05, 5, 5),
        ticket_rate: 0.7,
        satisfaction: 4.4,
        session_rate: 9.0,
        income: 82_000.0,
        churn_effect: -1.6,
        channel: [0.45, 0.25, 0.10, 0.20],
        age: 48.0,
    },
    Segment {
        share: 0.22,
        signup: (-1461, 364),
        min_orders: 4,
        order_rate: 7.5,
        lines: [0.35, 0.32, 0.18, 0.10, 0.05],
        price_alpha: 0.05,
        category_affinity: [1.0, 1.0, 1.2, 1.1, 1.1, 1.0, 1.0, 1.2],
        qty_factor: 1.1,
        discount: (0.10, 10, 10),
        ticket_rate: 0.6,
        satisfaction: 4.0,
        session_rate: 7.0,
        income: 54_000.0,
        churn_effect: -0.9,
        channel: [0.45, 0.35, 0.10, 0.10],
        age: 45.0,
    },
    Segment {
        share: 0.35,
        signup: (-1461, 546),
        min_orders: 1,
        order_rate: 2.2,
        lines: [0.46, 0.30, 0.14, 0.07, 0.03],
        price_alpha: 0.0,
        category_affinity: [1.0, 0.9, 0.8, 1.0, 1.0, 1.1, 1.2, 0.9],
        qty_factor: 1.0,
        discount: (0.10, 5, 20),
        ticket_rate: 0.5,
        satisfaction: 3.6,
        session_rate: 3.5,
        income: 42_000.0,
        churn_effect: 0.0,
        channel: [0.50, 0.30, 0.10, 0.10],
        age: 41.0,
    },
    Segment {
        share: 0.20,
        signup: (-1461, 546),
        min_orders: 3,
        order_rate: 4.5,
        lines: [0.38, 0.30, 0.19, 0.08, 0.05],
        price_alpha: -0.5,
        category_affinity: [0.6, 0.5, 1.0, 1.0, 0.8, 0.6, 1.3, 2.0],
        qty_factor: 1.2,
        discount: (0.65, 10, 40),
        ticket_rate: 1.6,
        satisfaction: 2.8,
        session_rate: 5.0,
        income: 29_000.0,
        churn_effect: 0.4,
        channel: [0.60, 0.15, 0.05, 0.20],
        age: 36.0,
    },
    Segment {
        share: 0.15,
        signup: (-1461, 242),
        min_orders: 2,
        order_rate: 1.5,
        lines: [0.46, 0.30, 0.14, 0.07, 0.03],
        price_alpha: -0.1,
        category_affinity: [1.0, 1.0, 0.9, 1.0, 1.0, 1.0, 1.1, 1.0],
        qty_factor: 1.0,
        discount: (0.15, 5, 20),
        ticket_rate: 1.2,
        satisfaction: 2.9,
        session_rate: 2.5,
        income: 38_000.0,
        churn_effect: 0.6,
        channel: [0.40, 0.35, 0.15, 0.10],
        age: 44.0,
    },
];

pub(super) const CHANNELS: [&str; 4] = ["web", "store", "phone", "partner"];
pub(super) const TICKET_CHANNELS: [&str; 3] = ["email", "phone", "chat"];
pub(super) const TICKET_TOPICS: [&str; 5] =
    ["delivery", "billing", "product", "returns", "account"];
pub(super) const DEVICES: [&str; 3] = ["desktop", "mobile", "tablet"];

pub(super) const FEMALE_NAMES: &[&str] = &[
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Rosie",
    "Sophia",
    "Grace",
    "Freya",
    "Emily",
    "Poppy",
    "Ella",
    "Charlotte",
    "Evie",
    "Florence",
    "Harper",
    "Sienna",
    "Alice",
    "Hannah",
    "Chloe",
    "Lucy",
    "Ruby",
    "Zara",
    "Priya",
    "Aisha",
    "Niamh",
    "Maria",
];

pub(super) const MALE_NAMES: &[&str] = &[
    "Oliver", "George", "Noah", "Arthur", "Leo", "Muhammad", "Harry", "Oscar", "Archie", "Henry",
    "Theodore", "Freddie", "Jack", "Charlie", "Thomas", "James", "William", "Alfie", "Joshua",
    "Samuel", "Daniel", "David", "Ethan", "Lucas", "Rohan", "Omar", "Callum", "Liam", "Sean",
    "Mateo",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Richardson",
    "Bailey",
    "Collins",
    "Bell",
    "Shaw",
    "Murphy",
    "Khan",
    "Ahmed",
];

pub(super) const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example",
    "inbox.test",
];

/// Cities with relative weights.
pub(super) const CITIES: &[(&str, f64)] = &[
    ("London", 9.0),
    ("Birmingham", 3.0),
    ("Manchester", 3.0),
    ("Leeds", 2.0),
    ("Glasgow", 2.0),
    ("Liverpool", 1.8),
    ("Bristol", 1.8),
    ("Sheffield", 1.5),
    ("Edinburgh", 1.5),
    ("Cardiff", 1.2),
    ("Leicester", 1.1),
    ("Nottingham", 1.1),
    ("Newcastle upon Tyne", 1.1),
    ("Southampton", 0.9),
    ("Brighton", 0.9),
    ("Belfast", 0.9),
    ("Oxford", 0.7),
    ("Cambridge", 0.7),
    ("York", 0.6),
    ("Norwich", 0.6),
];
