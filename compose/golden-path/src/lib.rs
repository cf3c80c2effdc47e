//! The golden path: what a customer walks, against the stack as `compose/local up` runs it,
//! through its one front door. The tests (`tests/golden_path.rs`) install a workspace through
//! the simulator for each way in (Forge, Connect, a Data Center webhook), follow the setup email
//! in Chromium, send a seeded lifecycle stream with Jira's retries and out-of-order deliveries,
//! and compare every view with [`expected`], computed here from what the simulator sent.

pub mod browser;
pub mod expected;
pub mod expected_flow;
pub mod html;
pub mod stack;
