import Foundation

/// What to do with one opportunity: skip it (closed), or the rooms it goes to and the alert for each,
/// with whether the state says it is already there. Pure.
public struct OpportunityPlan: Sendable, Equatable {
    public var feed: String
    public var opportunity: Opportunity
    public var closed: String?
    public var decision: RoutingDecision
    public var alerts: [PlannedAlert]

    public struct PlannedAlert: Sendable, Equatable {
        public var alert: FundingAlert
        public var alreadyPosted: Bool
    }

    /// Alerts still to send.
    public var pending: [FundingAlert] { alerts.filter { !$0.alreadyPosted }.map(\.alert) }
}

public enum Planner {
    public static func plan(_ opportunities: [Opportunity], feed: BotConfig.Feed, routes: [Route], composer: AlertComposer,
                            today: Day, isPosted: (_ ref: String, _ room: String) -> Bool) -> [OpportunityPlan] {
        var seen: Set<String> = []
        var plans: [OpportunityPlan] = []
        for opportunity in opportunities {
            // A feed listing the same item twice gets one alert.
            guard seen.insert(opportunity.sourceID).inserted else { continue }
            let decision = Router.route(opportunity, through: routes)
            let closed = opportunity.closedReason(today: today)
            let alerts: [OpportunityPlan.PlannedAlert] = closed != nil ? [] : decision.rooms.map { room in
                let alert = composer.alert(for: opportunity, feed: feed, room: room)
                return OpportunityPlan.PlannedAlert(alert: alert, alreadyPosted: isPosted(alert.ref, room))
            }
            plans.append(OpportunityPlan(feed: feed.name, opportunity: opportunity, closed: closed, decision: decision, alerts: alerts))
        }
        return plans
    }

    /// `--explain`: for each opportunity the routes it matched and why, or why none; and what
    /// happens to it.
    public static func explain(_ plan: OpportunityPlan, routes: [Route]) -> String {
        let o = plan.opportunity
        var lines = ["\(plan.feed): \"\(o.title)\" (ref \(AlertComposer.ref(feed: plan.feed, sourceID: o.sourceID)))"]
        var facts: [String] = []
        if let funder = o.funder { facts.append("funder \(funder)") }
        if let amount = o.amount?.display, !amount.isEmpty { facts.append("amount \(amount)") }
        if let closes = o.closes { facts.append("closes \(closes)") }
        if let status = o.status { facts.append("status \(status)") }
        if !o.tags.isEmpty { facts.append("tags \(o.tags.joined(separator: ", "))") }
        if !facts.isEmpty { lines.append("  " + facts.joined(separator: "; ")) }
        if plan.decision.matches.isEmpty {
            lines.append("  matched no route:")
            for (index, route) in routes.enumerated() {
                lines.append("    route \(index + 1) (\(route.room)): \(whyNot(route))")
            }
        }
        for match in plan.decision.matches {
            lines.append("  matched route \(match.routeIndex + 1) (\(match.route.room)): \(match.reasons.joined(separator: "; "))")
        }
        for shadow in plan.decision.shadowed {
            lines.append("  route \(shadow.routeIndex + 1) (\(shadow.room)) left out: \(shadow.cluster) already gets this alert in another room (a ref is once per cluster)")
        }
        if let closed = plan.closed {
            lines.append("  not posted: \(closed)")
        }
        for planned in plan.alerts {
            lines.append(planned.alreadyPosted ? "  already posted to \(planned.alert.room)" : "  posts to \(planned.alert.room)")
        }
        return lines.joined(separator: "\n")
    }

    static func whyNot(_ route: Route) -> String {
        var parts: [String] = []
        if !route.keywords.isEmpty { parts.append("no keyword of \(route.keywords.joined(separator: ", ")) in the title, description or eligibility") }
        if !route.areas.isEmpty { parts.append("no area of \(route.areas.joined(separator: ", ")) in the area or eligibility") }
        if !route.tags.isEmpty { parts.append("no tag of \(route.tags.joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }
}
