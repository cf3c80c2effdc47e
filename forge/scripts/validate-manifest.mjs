#!/usr/bin/env node
// Validates the Forge manifest with Atlassian's own validator (`@forge/manifest`'s `validate()`,
// the one `forge lint` runs), then checks what the validator cannot know about our backend.
//
//   node scripts/validate-manifest.mjs [path/to/manifest.yml]   (default: forge/manifest.yml)
//
// Exits 1 on any error. Which events are subscribed is checked against the normalizer by
// `pipeline/tests/forge_manifest.rs`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import forgeManifest from '@forge/manifest';
import { parse } from 'yaml';

const FORGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.resolve(process.argv[2] ?? path.join(FORGE_DIR, 'manifest.yml'));

// The routes our services answer (ingress `/forge/events`, onboarding `/forge/lifecycle`).
const ROUTES = { events: '/forge/events', lifecycle: '/forge/lifecycle' };
const LIFECYCLE_EVENTS = ['avi:forge:installed:app', 'avi:forge:upgraded:app'];
const SCOPES = [
  'read:jira-work',
  'read:jira-user',
  'read:email-address:jira',
  'read:app-system-token',
  'read:app-user-token',
];

// Resources are resolved against the working directory, as the Forge CLI does from the app's folder.
process.chdir(path.dirname(file));
const result = await forgeManifest.validate(false, file);
const problems = (result.errors ?? []).map(
  (error) => `${path.basename(file)}:${error.line}:${error.column}: ${error.level}: ${error.message} (${error.reference})`,
);
if (!result.success && problems.length === 0) problems.push(`${file}: @forge/manifest reports failure without an error`);

if (result.success) {
  const manifest = parse(readFileSync(file, 'utf8'));
  const modules = manifest.modules ?? {};
  const endpoints = new Map((modules.endpoint ?? []).map((endpoint) => [endpoint.key, endpoint]));
  const routeOf = (key) => endpoints.get(key)?.route?.path;
  const fail = (message) => problems.push(`${path.basename(file)}: ${message}`);

  const remotes = manifest.remotes ?? [];
  if (remotes.length !== 1) fail(`expected one remote (our public URL), found ${remotes.length}`);
  for (const remote of remotes) {
    if (!/^https:\/\/[^/]+$/.test(remote.baseUrl ?? '')) fail(`remote '${remote.key}' needs an https baseUrl without a path`);
  }

  const lifecycle = [];
  for (const trigger of modules.trigger ?? []) {
    if (trigger.function !== undefined || trigger.endpoint === undefined) {
      fail(`trigger '${trigger.key}' must deliver to our backend with 'endpoint', not 'function'`);
      continue;
    }
    const names = trigger.events.map((event) => (typeof event === 'string' ? event : event.eventType));
    if (names.every((name) => name.startsWith('avi:forge:'))) {
      lifecycle.push(...names);
      if (routeOf(trigger.endpoint) !== ROUTES.lifecycle) fail(`trigger '${trigger.key}' must go to ${ROUTES.lifecycle}`);
    } else if (names.some((name) => name.startsWith('avi:forge:'))) {
      fail(`trigger '${trigger.key}' mixes lifecycle and product events`);
    } else {
      if (routeOf(trigger.endpoint) !== ROUTES.events) fail(`trigger '${trigger.key}' must go to ${ROUTES.events}`);
      if (trigger.filter?.ignoreSelf !== true) fail(`trigger '${trigger.key}' needs filter.ignoreSelf: true`);
    }
  }
  if ([...lifecycle].sort().join() !== [...LIFECYCLE_EVENTS].sort().join()) {
    fail(`lifecycle triggers must be exactly ${LIFECYCLE_EVENTS.join(', ')}; found ${lifecycle.join(', ') || 'none'}`);
  }
  for (const preUninstall of modules.preUninstall ?? []) {
    if (routeOf(preUninstall.endpoint) !== ROUTES.lifecycle) fail(`preUninstall '${preUninstall.key}' must go to ${ROUTES.lifecycle}`);
  }
  if ((modules.preUninstall ?? []).length !== 1) fail('expected one preUninstall module');

  const adminPages = modules['jira:adminPage'] ?? [];
  if (adminPages.length !== 1 || adminPages[0].useAsConfig !== true) fail('expected one jira:adminPage with useAsConfig: true');

  const scopes = manifest.permissions?.scopes ?? [];
  if ([...scopes].sort().join() !== [...SCOPES].sort().join()) {
    fail(`scopes must be exactly the read-only ${SCOPES.join(', ')}; found ${scopes.join(', ')}`);
  }
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`forge manifest: ${problems.length} problem(s) in ${file}`);
  process.exit(1);
}
console.log(`forge manifest: valid (@forge/manifest validate() and our checks): ${file}`);
