/// A cluster and its topic rooms as configured (Config/). Pure data.
public struct ClusterDefinition: Sendable, Equatable {
    public struct Room: Sendable, Equatable {
        public var name: String
        public var topic: String
        public init(name: String, topic: String) {
            self.name = name
            self.topic = topic
        }
    }

    public var name: String
    public var description: String
    public var rooms: [Room]

    public init(name: String, description: String, rooms: [Room]) {
        self.name = name
        self.description = description
        self.rooms = rooms
    }
}
