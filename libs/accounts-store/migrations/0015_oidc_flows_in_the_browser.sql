-- A sign-in at a provider under way now lives in a sealed cookie of the browser that started it
-- (onboarding/src/web/oidc_flow.rs): an anonymous start stores nothing of ours. Flows under way
-- when this runs end on "start again" pages, as an expired one does.
DROP TABLE oidc_flows;
