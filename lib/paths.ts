/** Where the project-local tools and state live, relative to the repository root. */
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'venv', 'bin');
export const TEMPORAL_CLI = path.join(TOOLS_BIN, 'temporal');
export const TEMPORAL_TEST_SERVER = path.join(TOOLS_BIN, 'temporal-test-server');
export const DATA_DIR = path.join(REPO_ROOT, '.data');
export const DEFAULT_SIMULATOR_TLS_DIR = path.join(DATA_DIR, 'simulator-tls');
