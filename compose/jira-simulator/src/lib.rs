//! Plays Atlassian for the demo and the tests: signed Connect installs, Forge Invocation Tokens,
//! signed webhooks with Jira's retries. (Being written.)
