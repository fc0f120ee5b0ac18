// Which scheduling profiles run for a request, and which one's pick is where the request goes
// (GIE's ProfileHandler). A whole request runs one profile; a P/D pool will run a prefill and a
// decode profile and send the request to both picks.
import { SchedulingProfile } from "./profile";

export abstract class ProfileHandler {
  constructor(public readonly name: string) {}
  /** The profiles to run, in order. */
  abstract profiles(): SchedulingProfile[];
  /** Index (into profiles()) of the profile whose pick receives the request. */
  primary(): i32 {
    return 0;
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
