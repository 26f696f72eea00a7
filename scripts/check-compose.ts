/**
 * Checks docker-compose.yml as Compose would before running it, without Docker Compose: variable
 * interpolation as the Compose Specification defines it (`$VAR`, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+replacement}`, `${VAR+replacement}`, `$$` for a
 * literal `$`; https://github.com/compose-spec/compose-spec/blob/main/12-interpolation.md), YAML merge keys,
 * then validation against the specification's JSON schema (deploy/compose-spec/compose-spec.json).
 *
 *   npm run check:compose   # with the variables of the environment and of .env, as Compose reads them
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lib/paths';

export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');
const SCHEMA_FILE = path.join(REPO_ROOT, 'deploy', 'compose-spec', 'compose-spec.json');

export interface ComposeCheck {
  /** Empty when Compose would accept the file with these variables. */
  problems: string[];
  /** The file after interpolation and merges, when it got that far. */
  config?: Record<string, unknown>;
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*';

/**
 * Interpolates one string. A `${…}` may nest another in its default (`${A:-${B}}`), so the expression is
 * read to its matching brace. Missing required variables are collected in `problems`.
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>, problems: string[], where: string): string {
  let out = '';
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 1;
      continue;
    }
    if (next === '{') {
      let depth = 1;
      let j = i + 2;
      for (; j < text.length && depth > 0; j += 1) {
        if (text[j] === '{') depth += 1;
        else if (text[j] === '}') depth -= 1;
      }
      if (depth > 0) {
        problems.push(`${where}: "${text.slice(i, i + 40)}" has no closing brace`);
        return out + text.slice(i);
      }
      out += expression(text.slice(i + 2, j - 1), env, problems, where);
      i = j - 1;
      continue;
    }
    const bare = new RegExp(`^${NAME}`).exec(text.slice(i + 1));
    if (bare) {
      out += env[bare[0]] ?? '';
      i += bare[0].length;
      continue;
    }
    problems.push(`${where}: "$" must be followed by a variable name, {, or $ (write $$ for a literal $)`);
    out += c;
  }
  return out;
}

function expression(body: string, env: Readonly<Record<string, string | undefined>>, problems: string[], where: string): string {
  const match = new RegExp(`^(${NAME})(?:(:?[-?+])([\\s\\S]*))?$`).exec(body);
  if (!match) {
    problems.push(`${where}: "\${${body}}" is not a valid interpolation (invalid variable name or operator)`);
    return '';
  }
  const [, name = '', operator, rest = ''] = match;
  const value = env[name];
  const set = value !== undefined;
  const nonEmpty = set && value !== '';
  switch (operator) {
    case undefined:
      return value ?? '';
    case ':-':
      return nonEmpty ? (value ?? '') : interpolate(rest, env, problems, where);
    case '-':
      return set ? (value ?? '') : interpolate(rest, env, problems, where);
    case ':?':
    case '?':
      if (operator === ':?' ? nonEmpty : set) return value ?? '';
      problems.push(`${where}: required variable ${name} is missing a value: ${interpolate(rest, env, problems, where) || `set ${name}`}`);
      return '';
    case ':+':
      return nonEmpty ? interpolate(rest, env, problems, where) : '';
    case '+':
      return set ? interpolate(rest, env, problems, where) : '';
    default:
      return '';
  }
}

/** Interpolates every string value (not keys) of the parsed file, as Compose does. */
function interpolateTree(node: unknown, env: Readonly<Record<string, string | undefined>>, problems: string[], where: string): unknown {
  if (typeof node === 'string') return interpolate(node, env, problems, where);
  if (Array.isArray(node)) return node.map((item, i) => interpolateTree(item, env, problems, `${where}[${i}]`));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolateTree(value, env, problems, where ? `${where}.${key}` : key)]));
  }
  return node;
}

/** Reads a Compose `.env` file: KEY=VALUE lines, `#` comments, optional quotes. */
export function readEnvFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match || line.trimStart().startsWith('#')) continue;
    const raw = (match[2] ?? '').trim();
    vars[match[1] ?? ''] = /^(['"])(.*)\1$/.exec(raw)?.[2] ?? raw.replace(/\s+#.*$/, '');
  }
  return vars;
}

let compiled: ValidateFunction | undefined;

/** The Compose Specification's schema, compiled once per process. */
function schemaValidator(): ValidateFunction {
  // The schema names draft-07 by an id Ajv does not list (no trailing #); its custom formats (duration, …) are not checked.
  compiled ??= new Ajv({ allErrors: true, strict: false, validateSchema: false, validateFormats: false })
    .compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
  return compiled;
}

/**
 * What Compose would say about `file` with `env`: interpolation problems (a required variable unset, a
 * malformed expression) and, once those are none, every place the result breaks the specification's schema.
 */
export function checkCompose(env: Readonly<Record<string, string | undefined>>, file = COMPOSE_FILE): ComposeCheck {
  const problems: string[] = [];
  const parsed = parse(readFileSync(file, 'utf8'), { merge: true }) as unknown;
  const config = interpolateTree(parsed, env, problems, '') as Record<string, unknown>;
  if (problems.length > 0) return { problems };
  const validate = schemaValidator();
  if (!validate(config)) {
    for (const error of validate.errors ?? []) {
      problems.push(`${error.instancePath || '(top level)'} ${error.message ?? 'is not valid'}${error.params && 'additionalProperty' in error.params ? `: ${String(error.params.additionalProperty)}` : ''}`);
    }
  }
  return { problems, config };
}

if (require.main === module) {
  const env = { ...readEnvFile(path.join(REPO_ROOT, '.env')), ...process.env };
  const { problems } = checkCompose(env);
  if (problems.length > 0) {
    console.error(`docker-compose.yml is not valid with these variables:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exit(1);
  }
  console.log('docker-compose.yml: interpolation and the Compose Specification schema are satisfied');
}
