// Builds the app's UI Kit resources as `forge deploy` does and lints the app as `forge lint` does,
// with Atlassian's own packages (pinned in forge/package.json), without a login or the network.
// forge/scripts/check.sh runs it after the manifest's validation; any error fails it.
//
// 1. Bundle. The Forge CLI's deploy reads the manifest's resources (`ConfigFile.getResources()`),
//    keeps those it bundles itself (`shouldBundleResource`: UI Kit, no custom bundler) and hands
//    them to `@forge/bundler`'s `NativeUIBundler.bundleResources()` with the manifest's
//    translations: webpack in production mode, babel's React JSX transform, `@forge/react`,
//    `@forge/bridge` and `react` resolved from forge/node_modules. Exactly that call runs here, so
//    a syntax error or a module that does not resolve fails as it would fail `forge deploy`; so
//    does any webpack warning.
// 2. Type-check the resources' sources against the packages' declarations (TypeScript, the
//    version the bundler's ts-loader uses, over the .jsx as checked JavaScript). The bundler cannot
//    see a name imported from `@forge/react` that it does not export (the package is CommonJS, so
//    webpack only finds out at run time, in Jira), nor a prop or value UI Kit does not take.
// 3. Lint. `@forge/lint`'s `lint()` over what `forge lint` reads (src/ and every UI Kit resource's
//    directory), in the client-side mode `forge deploy` runs before bundling. `forge lint` itself
//    also asks Atlassian's servers for their rules, which needs a login. Lint errors fail, as they
//    fail `forge lint`; warnings are printed.
//
// The CLI reads a few feature flags from Atlassian through a logged-in client; here each takes the
// default the CLI's own code gives it when the flag service has no answer.
//
//   node scripts/build-ui.mjs        (from anywhere; it works in forge/)
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { NativeUIBundler } = require('@forge/bundler');
const { lint, reportLintResults, problemCount } = require('@forge/lint');
const {
  ConfigFile,
  FileSystemReader,
  FileSystemWriter,
  StatsigReader,
  listGitIgnoreFiles,
  shouldBundleResource,
} = require('@forge/cli-shared');
const ts = require('typescript');

// Both packages resolve the manifest and the resources' paths against the working directory.
process.chdir(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));

// Everything written goes to one temporary directory, removed at the end whether the check passes
// or fails: the CLI's packages put the bundle under the system's temporary directory (TMPDIR).
const scratch = mkdtempSync(path.join(tmpdir(), 'metafrazo-forge-check-'));
process.env.TMPDIR = scratch;
const cleanUp = () => rmSync(scratch, { recursive: true, force: true });
process.on('exit', cleanUp);
const fail = (message) => {
  console.error(`forge: ${message}`);
  cleanUp();
  process.exit(1);
};

// The CLI's flag reader with no flag service behind it: every gate and dynamic config is unknown,
// so each reader method answers its built-in default.
class NoFlagService extends StatsigReader {
  async checkGate() {
    return undefined;
  }
  async getDynamicConfig() {
    return undefined;
  }
}

const webpackWarnings = [];
const logger = {
  info: (message) => console.log(message),
  debug: () => {},
  trace: () => {},
  warn: (message) => {
    webpackWarnings.push(message);
    console.error(`warning: ${message}`);
  },
  error: (message) => console.error(message),
};

const reader = new FileSystemReader();
const configFile = new ConfigFile(reader, new FileSystemWriter());
const manifest = await configFile.readConfig();
const uiKit = (await configFile.getResources()).filter(shouldBundleResource);
if (uiKit.length === 0) fail('the manifest names no UI Kit resource to bundle');

const exclude = [...(await listGitIgnoreFiles(reader)), '.git', 'node_modules'];
const directories = [...new Set(['./src', ...uiKit.map((resource) => path.dirname(resource.path))])];
const files = [...new Set((await Promise.all(directories.map((dir) => reader.recursiveReadDir(dir, exclude)))).flat())];
const sources = files.filter((file) => /\.[cm]?[jt]sx?$/.test(file));

// 1. Bundle.
let bundled;
try {
  bundled = await new NativeUIBundler(logger).bundleResources(uiKit, manifest.translations);
} catch (error) {
  fail(`@forge/bundler could not bundle the UI Kit resources:\n${error.message}`);
}
for (const { key, path: outputDir } of bundled.nativeUiBundlesDetails) {
  const size = statSync(path.join(outputDir, `${key}.js`)).size;
  console.log(`forge: bundled the UI Kit resource '${key}' with @forge/bundler (${key}.js, ${Math.round(size / 1024)} KiB)`);
}
if (webpackWarnings.length > 0) fail(`webpack warned ${webpackWarnings.length} time(s) while bundling (above)`);

// 2. Type-check. Resolution as webpack does it (package.json `exports`, no extensions needed).
const program = ts.createProgram(sources, {
  allowJs: true,
  checkJs: true,
  noEmit: true,
  jsx: ts.JsxEmit.React,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  esModuleInterop: true,
  skipLibCheck: true,
});
const ours = new Set(sources.map((file) => path.resolve(file)));
const typeErrors = ts
  .getPreEmitDiagnostics(program)
  .filter((diagnostic) => diagnostic.file && ours.has(path.resolve(diagnostic.file.fileName)));
for (const diagnostic of typeErrors) {
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  console.error(`${diagnostic.file.fileName}:${line + 1}:${character + 1}: TS${diagnostic.code}: ${message}`);
}
if (typeErrors.length > 0) fail(`${typeErrors.length} type error(s) against the UI Kit packages' declarations (above)`);
console.log(`forge: ${sources.length} source file(s) type-check against @forge/react, @forge/bridge and react`);

// 3. Lint. The permission linter checks each product REST call (`requestJira`, …) against the
// scopes of its path in Atlassian's published OpenAPI documents, which it downloads from
// developer.atlassian.com unless USE_LOCAL_SWAGGER and its LOCAL_*_SWAGGER variables name files.
// Unless they are set, it is given documents without paths: its other checks (storage, UI hooks,
// external fetches, images, notifications) all run and only product calls would go unchecked, so
// the sources must make none (the admin page talks to our backend through invokeRemote only).
if (!process.env.USE_LOCAL_SWAGGER) {
  const productCall = /\b(requestJira|requestConfluence|requestBitbucket)\b/;
  const calling = sources.filter((file) => productCall.test(readFileSync(file, 'utf8')));
  if (calling.length > 0) {
    fail(
      `${calling.join(', ')} call a product REST API, whose scopes @forge/lint checks against Atlassian's OpenAPI ` +
        'documents; download them and set USE_LOCAL_SWAGGER=1 and LOCAL_JIRA_SWAGGER, LOCAL_JSM_SWAGGER, ' +
        'LOCAL_JSW_SWAGGER, LOCAL_CONF_SWAGGER, LOCAL_CONF_V2_SWAGGER and LOCAL_BB_SWAGGER to their paths',
    );
  }
  const noPaths = path.join(scratch, 'no-paths.json');
  writeFileSync(noPaths, JSON.stringify({ paths: {} }));
  process.env.USE_LOCAL_SWAGGER = 'true';
  for (const name of ['JIRA', 'JSM', 'JSW', 'CONF', 'CONF_V2', 'BB']) process.env[`LOCAL_${name}_SWAGGER`] = noPaths;
}
let results;
try {
  results = await lint(files, manifest, 'development', logger, new NoFlagService(), { linter: { mode: 'client-side' } });
} catch (error) {
  fail(`@forge/lint could not lint the app: ${error.message}`);
}
reportLintResults(logger, results);
const { errors, warnings } = problemCount(results);
if (errors > 0) fail(`@forge/lint found ${errors} error(s) (above)`);
console.log(`forge: @forge/lint: ${files.length} file(s), no errors, ${warnings} warning(s)`);
cleanUp();
process.exit(0);
