/**
 * Can this process load a shared library by its soname, the way a native library would (dlopen:
 * LD_LIBRARY_PATH, the ld.so cache, the default directories)? Node's `process.dlopen` does the dlopen;
 * a library that is not a Node addon then fails with "Module did not self-register", which means it was
 * found and loaded (Node closes it again). Used to tell exactly which CUDA or Vulkan library is missing
 * before loading libtensorflow or Dawn, whose own messages go straight to stderr from C++.
 */

export interface LibraryCheck {
  found: boolean;
  /** dlopen's message when not found: the library itself, or a library it needs. */
  error?: string;
}

/** Checks one soname; `libcudart.so.11.0` -> {found: false, error: 'libcudart.so.11.0: cannot open ...'}. */
export type LibraryLoader = (soname: string) => LibraryCheck;

export const canLoadSharedLibrary: LibraryLoader = (soname) => {
  try {
    process.dlopen({ exports: {} } as unknown as NodeJS.Module, soname);
    return { found: true };
  } catch (e) {
    const message = (e as Error).message;
    if (/did not self-register/.test(message)) return { found: true };
    return { found: false, error: message };
  }
};
