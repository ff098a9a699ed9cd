/**
 * Symbols helpers (filled in below by the core build).
 */
import { runTool } from './toolchain.ts';

/** The Nano 33 BLE's target flags (variants/ARDUINO_NANO33BLE/cflags.txt, and the recipe's -mcpu/-mfpu). */
export const ARM_TARGET_FLAGS: readonly string[] = ['-mcpu=cortex-m4', '-mthumb', '-mfloat-abi=softfp', '-mfpu=fpv4-sp-d16'];

/** Single-word `__` names that are C library functions, not compiler intrinsics. */
const LIBRARY_WORDS = new Set(['__errno', '__getreent']);

/**
 * Names that look like compiler intrinsics (ACLE's `__sxtb16`, `__smlad`, `__ssat`,
 * or `__builtin_*`): a compiler that knows them never leaves them undefined, so an
 * undefined one means a header declared (or C implied) a function nobody defines.
 * ABI helpers (`__aeabi_*`, `__cxa_*`) and C library names are not intrinsics.
 */
export function builtinLookingSymbols(symbols: readonly string[]): string[] {
  return symbols.filter((s) => (/^__[a-z][a-z0-9]*$/.test(s) && !LIBRARY_WORDS.has(s)) || s.startsWith('__builtin_'));
}

/** `arm-none-eabi-nm -u` of an object or ELF: the undefined symbol names. */
export async function undefinedSymbols(file: string): Promise<string[]> {
  const out = await runTool('arm-none-eabi-nm', ['-u', file], `listing undefined symbols of ${file}`);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/).pop() ?? '')
    .filter((s) => s.length > 0);
}
