// Top-level types named like those of Apple's StableDiffusion package and Combine
// (`Scheduler`, `Configuration`, ...). SdrtTests imports this module and Sdrt together and
// uses these names unqualified: that compiles only while Sdrt declares none of them at top
// level (two imported modules declaring one name make it ambiguous).

/// Combine's and ml-stable-diffusion's `Scheduler` are protocols.
public protocol Scheduler {}
public struct Configuration: Equatable {
    public init() {}
}
public struct Generator: Equatable {
    public init() {}
}
public enum Status: Equatable { case probe }
public enum Runtime: Equatable { case probe }
