import { chmodSync, statSync } from 'node:fs';

/** Files holding secrets or their hashes: their owner's only. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_FOLDER_MODE = 0o700;
/** Bits that let anyone but the owner read, write or enter. */
export const OTHERS = 0o077;

/** A path's permission bits in octal, as `ls -l` readers know them (`644`). */
export function modeOf(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(3, '0');
}

/** Makes `file` 0600 when others may read or write it; true when it changed. */
export function tighten(file: string): boolean {
  if ((statSync(file).mode & OTHERS) === 0) return false;
  chmodSync(file, PRIVATE_FILE_MODE);
  return true;
}
