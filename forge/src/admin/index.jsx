// The page Jira shows admins under Apps → MetaFrazo (and as the app's configure page). It only
// talks to our backend through invokeRemote; the backend checks the caller is a Jira admin.
import React, { useEffect, useState } from 'react';
import ForgeReconciler, { Button, ButtonGroup, Heading, SectionMessage, Spinner, Stack, Text } from '@forge/react';
import { invokeRemote, router } from '@forge/bridge';

// invokeRemote resolves with any status; a refusal (not an admin, too many emails) is an error here.
/** @param {string} path @param {'GET' | 'POST'} [method] */
const call = async (path, method = 'GET') => {
  const { status, body } = await invokeRemote({ path, method });
  if (status < 200 || status >= 300) throw new Error(`${path} answered ${status}`);
  return body;
};

// The backend's answers (onboarding, `/forge/ui/...`, checked against Jira as a Jira admin):
//   GET  /forge/ui/status -> {connected: bool, organization: string|null, last_event_at: string|null}
//   POST /forge/ui/link   -> {url}: a fresh one-time link (setup, or the organization once connected)
//   POST /forge/ui/resend -> 2xx once the email is queued; 429 within a minute of the last one
const App = () => {
  const [status, setStatus] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);

  useEffect(() => {
    call('/forge/ui/status').then(setStatus, () => setError('MetaFrazo did not answer. Try again in a minute.'));
  }, []);

  // The backend mints a fresh one-time link: "Finish setup" before the workspace is connected,
  // "Open MetaFrazo" after.
  const openLink = () =>
    call('/forge/ui/link', 'POST').then(({ url }) => router.open(url), () => setError('No link could be made. Try again.'));
  const resend = () =>
    call('/forge/ui/resend', 'POST').then(
      () => setNotice('Setup email sent.'),
      () => setError('The setup email was not sent: it can be re-sent once a minute. Try again shortly.'),
    );

  if (error) return <SectionMessage appearance="error"><Text>{error}</Text></SectionMessage>;
  if (!status) return <Spinner label="Loading" />;
  return (
    <Stack space="space.200">
      <Heading size="medium">MetaFrazo</Heading>
      {status.connected ? (
        <Text>Connected to {status.organization}. Last event: {status.last_event_at ?? 'none yet'}.</Text>
      ) : (
        <Text>Not connected yet: finish setup to choose the organization that sees this workspace's events.</Text>
      )}
      {notice && <SectionMessage appearance="success"><Text>{notice}</Text></SectionMessage>}
      <ButtonGroup>
        <Button appearance="primary" onClick={openLink}>{status.connected ? 'Open MetaFrazo' : 'Finish setup'}</Button>
        <Button onClick={resend}>Re-send setup email</Button>
      </ButtonGroup>
    </Stack>
  );
};

ForgeReconciler.render(<React.StrictMode><App /></React.StrictMode>);
