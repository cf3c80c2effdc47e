// The page Jira shows admins under Apps → MetaFrazo (and as the app's configure page). It only
// talks to our backend through invokeRemote; the backend checks the caller is a Jira admin.
import React, { useEffect, useState } from 'react';
import ForgeReconciler, { Button, ButtonGroup, Heading, SectionMessage, Spinner, Stack, Text } from '@forge/react';
import { invokeRemote, router } from '@forge/bridge';

const call = (path, method = 'GET') =>
  invokeRemote({ path, method }).then(({ body }) => body);

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
      () => setError('The setup email can be re-sent at most once a minute.'),
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
