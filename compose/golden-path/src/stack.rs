//! Where the running stack is, as `compose/local up` started it (the same variables and
//! defaults as `compose/stack/common.sh`): the front door every browser and Jira call goes
//! through, the simulator's key server, its signing key, and the binaries it runs.

use std::path::PathBuf;

use url::Url;

pub struct RunningStack {
    /// The one public address: Jira's callbacks and events, onboarding and the dashboards.
    pub front_door: Url,
    /// The simulator's `serve`: Atlassian's keys and Jira's REST API.
    pub simulator: Url,
    /// The key `serve` publishes, so the stack's onboarding and ingress trust what we sign.
    pub simulator_key: PathBuf,
    /// Where the stack's binaries were built (`onboarding`, …): the target directory.
    pub binaries: PathBuf,
}

impl RunningStack {
    pub fn from_env() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let stack_dir = std::env::var("METAFRAZO_STACK_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join(".stack"));
        let addr = |name: &str, default: &str| {
            let addr = std::env::var(name).unwrap_or_else(|_| default.to_owned());
            Url::parse(&format!("http://{addr}")).expect("an address")
        };
        // Test binaries live in <target>/debug/deps; the stack's binaries in <target>/debug.
        let binaries = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.to_owned()))
            .expect("the test binary's directory");
        Self {
            front_door: addr("FRONT_DOOR_ADDR", "127.0.0.1:8000"),
            simulator: addr("SIMULATOR_ADDR", "127.0.0.1:8090"),
            simulator_key: stack_dir.join("simulator/key.pem"),
            binaries,
        }
    }

    /// `path` on the front door.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.front_door.as_str().trim_end_matches('/'), path)
    }
}
