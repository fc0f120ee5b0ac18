// Which scheduling profiles run for a request, and which one's pick is where the request goes
// (GIE's ProfileHandler). A whole request runs one profile; a P/D pool runs a prefill and a decode
// profile and the request goes to both picks (the decode pod's answer reaches the client).
import { SchedulingProfile } from "./profile";

export abstract class ProfileHandler {
  constructor(public readonly name: string) {}
  /** The profiles to run, in order. */
  abstract profiles(): SchedulingProfile[];
  /** Index (into profiles()) of the profile whose pick receives the request. */
  primary(): i32 {
    return 0;
  }
  /** Index of the profile whose pick prefills for the primary one (P/D), -1 when none. */
  prefill(): i32 {
    return -1;
  }
}

export class SingleProfileHandler extends ProfileHandler {
  private list: SchedulingProfile[];
  constructor(profile: SchedulingProfile) {
    super("single-profile-handler");
    this.list = [profile];
  }
  profiles(): SchedulingProfile[] {
    return this.list;
  }
}

/**
 * SGLang prefill/decode disaggregation: the prefill profile picks the pod that computes the prompt's
 * KV, the decode profile the pod that receives it and generates. Prefill runs first so that a pool
 * without a ready prefill pod is refused before anything is taken on the decode side.
 */
export class PdProfileHandler extends ProfileHandler {
  private list: SchedulingProfile[];
  constructor(prefill: SchedulingProfile, decode: SchedulingProfile) {
    super("pd-profile-handler");
    this.list = [prefill, decode];
  }
  profiles(): SchedulingProfile[] {
    return this.list;
  }
  primary(): i32 {
    return 1;
  }
  prefill(): i32 {
    return 0;
  }
}
