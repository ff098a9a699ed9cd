import { TinymlError } from '../errors.ts';

/** At least one doctor check failed; the report printed before it says which and how to fix each. */
export class DoctorFailedError extends TinymlError {}
