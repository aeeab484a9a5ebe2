//! The pure rules of buying bitcoin, with no I/O: which fiat currencies are
//! accepted (`currency`), what a valid fiat amount is (`fiat_amount`), how a
//! decimal is read exactly from text (`decimal_text`), the exact BTC maths
//! (`btc`), and a stored order as clients and the queue see it (`buy_order`).
//! Every type here can only hold a valid value, so code that holds one
//! never re-checks it.

mod btc;
mod buy_order;
mod currency;
mod decimal_text;
mod fiat_amount;
pub mod timestamp;

pub use btc::{BTC_LIMIT, BtcAmount, BtcAmountTooLarge, BtcRate, InvalidBtcRate, btc_for};
pub use buy_order::{BuyOrder, BuyOrderEvent, EVENT_SCHEMA_VERSION, InvalidEvent};
pub use currency::{Currency, UnknownCurrency};
pub use decimal_text::{NotADecimal, parse_decimal_text};
pub use fiat_amount::{FiatAmount, InvalidFiatAmount};
