/* Generated from the server's /openapi.json by `npm run api:types`; do not edit. */
export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            status: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            status: string;
                            database: string;
                            coordination: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            status: string;
                            database: string;
                            coordination: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/customers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Register a customer */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** Format: email */
                        email: string;
                        name: string;
                        password: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            customerId: string;
                            token: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Log in
         * @description At most a few attempts per e-mail address per quarter hour; then 429 with Retry-After (other accounts are unaffected).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        email: string;
                        password: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            customerId: string;
                            token: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        /**
         * Log out everywhere: revoke every token of the customer
         * @description The token sent and every other token of this customer stop working at once on this node and within a few seconds on every node; log in for a new one.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/customers/bulk": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Register many customers sharing one password (imports) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        password: string;
                        customers: {
                            /** Format: email */
                            email: string;
                            name: string;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            data: {
                                customerId: string;
                                email: string;
                                token: string;
                            }[];
                            skipped: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/venues": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Create a venue */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        city: string;
                        sections: ({
                            key: string;
                            name: string;
                            /** @enum {string} */
                            kind: "seated";
                            /** @description Drawing hints. (x, y): centre of the front edge (a seated section's first row). Unrotated, rows run along +x with seat 1 leftmost and later rows at +y, one unit apart; rotationDeg (default 0) turns the section clockwise about (x, y), so it faces a stage at its -y side. curve (degrees, default 0 = straight rows) is the arc the first row spans: rows are then concentric arcs about a centre on the stage side, radius r0 = (seats in the first row - 1) / curve in radians, growing by one unit per row, seats one unit apart along each arc, centred. width and depth (units) size a standing area's rectangle behind its front edge (default: a square of its capacity). */
                            layout?: {
                                x: number;
                                y: number;
                                rotationDeg?: number;
                                curve?: number;
                                width?: number;
                                depth?: number;
                            };
                            rows: {
                                label: string;
                                seats: number;
                            }[];
                        } | {
                            key: string;
                            name: string;
                            /** @enum {string} */
                            kind: "standing";
                            /** @description Drawing hints. (x, y): centre of the front edge (a seated section's first row). Unrotated, rows run along +x with seat 1 leftmost and later rows at +y, one unit apart; rotationDeg (default 0) turns the section clockwise about (x, y), so it faces a stage at its -y side. curve (degrees, default 0 = straight rows) is the arc the first row spans: rows are then concentric arcs about a centre on the stage side, radius r0 = (seats in the first row - 1) / curve in radians, growing by one unit per row, seats one unit apart along each arc, centred. width and depth (units) size a standing area's rectangle behind its front edge (default: a square of its capacity). */
                            layout?: {
                                x: number;
                                y: number;
                                rotationDeg?: number;
                                curve?: number;
                                width?: number;
                                depth?: number;
                            };
                            capacity: number;
                        })[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            venueId: string;
                            name: string;
                            city: string;
                            capacity: number;
                            sections: ({
                                key: string;
                                name: string;
                                /** @enum {string} */
                                kind: "seated";
                                /** @description Drawing hints. (x, y): centre of the front edge (a seated section's first row). Unrotated, rows run along +x with seat 1 leftmost and later rows at +y, one unit apart; rotationDeg (default 0) turns the section clockwise about (x, y), so it faces a stage at its -y side. curve (degrees, default 0 = straight rows) is the arc the first row spans: rows are then concentric arcs about a centre on the stage side, radius r0 = (seats in the first row - 1) / curve in radians, growing by one unit per row, seats one unit apart along each arc, centred. width and depth (units) size a standing area's rectangle behind its front edge (default: a square of its capacity). */
                                layout?: {
                                    x: number;
                                    y: number;
                                    rotationDeg?: number;
                                    curve?: number;
                                    width?: number;
                                    depth?: number;
                                };
                                rows: {
                                    label: string;
                                    seats: number;
                                }[];
                            } | {
                                key: string;
                                name: string;
                                /** @enum {string} */
                                kind: "standing";
                                /** @description Drawing hints. (x, y): centre of the front edge (a seated section's first row). Unrotated, rows run along +x with seat 1 leftmost and later rows at +y, one unit apart; rotationDeg (default 0) turns the section clockwise about (x, y), so it faces a stage at its -y side. curve (degrees, default 0 = straight rows) is the arc the first row spans: rows are then concentric arcs about a centre on the stage side, radius r0 = (seats in the first row - 1) / curve in radians, growing by one unit per row, seats one unit apart along each arc, centred. width and depth (units) size a standing area's rectangle behind its front edge (default: a square of its capacity). */
                                layout?: {
                                    x: number;
                                    y: number;
                                    rotationDeg?: number;
                                    curve?: number;
                                    width?: number;
                                    depth?: number;
                                };
                                capacity: number;
                            })[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/venues/{venueId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A venue and its layout */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    venueId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            venueId: string;
                            name: string;
                            city: string;
                            capacity: number;
                            sections: ({
                                key: string;
                                name: string;
                                /** @enum {string} */
                                kind: "seated";
                                /** @description Drawing hints. (x, y): centre of the front edge (a seated section's first row). Unrotated, rows run along +x with seat 1 leftmost and later rows at +y, one unit apart; rotationDeg (default 0) turns the section clockwise about (x, y), so it faces a stage at its -y side. curve (degrees, default 0 = straight rows) is the arc the first row spans: rows are then concentric arcs about a centre on the stage side, radius r0 = (seats in the first row - 1) / curve in radians, growing by one unit per row, seats one unit apart along each arc, centred. width and depth (units) size a standing area's rectangle behind its front edge (default: a square of its capacity). */
                                layout?: {
                                    x: number;
                                    y: number;
                                    rotationDeg?: number;
                                    curve?: number;
                                    width?: number;
                                    depth?: number;
                                };
                                rows: {
                                    label: string;
                                    seats: number;
                                }[];
                            } | {
                                key: string;
                                name: string;
                                /** @enum {string} */
                                kind: "standing";
                                /** @description Drawing hints. (x, y): centre of the front edge (a seated section's first row). Unrotated, rows run along +x with seat 1 leftmost and later rows at +y, one unit apart; rotationDeg (default 0) turns the section clockwise about (x, y), so it faces a stage at its -y side. curve (degrees, default 0 = straight rows) is the arc the first row spans: rows are then concentric arcs about a centre on the stage side, radius r0 = (seats in the first row - 1) / curve in radians, growing by one unit per row, seats one unit apart along each arc, centred. width and depth (units) size a standing area's rectangle behind its front edge (default: a square of its capacity). */
                                layout?: {
                                    x: number;
                                    y: number;
                                    rotationDeg?: number;
                                    curve?: number;
                                    width?: number;
                                    depth?: number;
                                };
                                capacity: number;
                            })[];
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Search events
         * @description Served from a per-node cache up to PUBLIC_READ_CACHE_MS (1 s) old. Limited per address (RATE_LIMIT_READS_PER_IP, shared with the event page).
         */
        get: {
            parameters: {
                query?: {
                    q?: string;
                    city?: string;
                    from?: string;
                    to?: string;
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            data: {
                                /** Format: uuid */
                                eventId: string;
                                /** Format: uuid */
                                venueId: string;
                                title: string;
                                description: string;
                                performers: string[];
                                venueName: string;
                                city: string;
                                /** Format: date-time */
                                startsAt: string;
                                /** Format: date-time */
                                onSaleAt: string;
                                status: "scheduled" | "on_sale" | "sold_out" | "ended" | "cancelled";
                                capacity: number;
                                zones: {
                                    key: string;
                                    name: string;
                                    priceCents: number;
                                    currency: string;
                                    sections: string[];
                                    capacity: number;
                                    available: number;
                                    held: number;
                                    sold: number;
                                }[];
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        /** Create an event and its tickets */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** Format: uuid */
                        venueId: string;
                        title: string;
                        /** @default  */
                        description?: string;
                        /** @default [] */
                        performers?: string[];
                        /** Format: date-time */
                        startsAt: string;
                        /** Format: date-time */
                        onSaleAt: string;
                        zones: {
                            key: string;
                            name: string;
                            priceCents: number;
                            currency: string;
                            sections: string[];
                        }[];
                        /** @default 600 */
                        holdSeconds?: number;
                        /** @default 300 */
                        holdExtensionSeconds?: number;
                        /** @default 8 */
                        maxTicketsPerCustomer?: number;
                        queue?: {
                            /** @default false */
                            enabled?: boolean;
                            /** @default 1000 */
                            admitPerMinute?: number;
                            /** @default 1000 */
                            maxActiveShoppers?: number;
                            /** @default 900 */
                            passSeconds?: number;
                            /** @default false */
                            proofOfWork?: boolean;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            eventId: string;
                            /** Format: uuid */
                            venueId: string;
                            title: string;
                            description: string;
                            performers: string[];
                            venueName: string;
                            city: string;
                            /** Format: date-time */
                            startsAt: string;
                            /** Format: date-time */
                            onSaleAt: string;
                            status: "scheduled" | "on_sale" | "sold_out" | "ended" | "cancelled";
                            capacity: number;
                            zones: {
                                key: string;
                                name: string;
                                priceCents: number;
                                currency: string;
                                sections: string[];
                                capacity: number;
                                available: number;
                                held: number;
                                sold: number;
                            }[];
                            holdSeconds: number;
                            holdExtensionSeconds: number;
                            maxTicketsPerCustomer: number;
                            queue: {
                                enabled: boolean;
                                admitPerMinute: number;
                                maxActiveShoppers: number;
                                passSeconds: number;
                                proofOfWork: boolean;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Event details with live availability
         * @description Served from a per-node cache up to PUBLIC_READ_CACHE_MS (1 s) old, so availability may lag that much; the node that cancels an event drops its entry at once. Limited per address (RATE_LIMIT_READS_PER_IP, shared with search).
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            eventId: string;
                            /** Format: uuid */
                            venueId: string;
                            title: string;
                            description: string;
                            performers: string[];
                            venueName: string;
                            city: string;
                            /** Format: date-time */
                            startsAt: string;
                            /** Format: date-time */
                            onSaleAt: string;
                            status: "scheduled" | "on_sale" | "sold_out" | "ended" | "cancelled";
                            capacity: number;
                            zones: {
                                key: string;
                                name: string;
                                priceCents: number;
                                currency: string;
                                sections: string[];
                                capacity: number;
                                available: number;
                                held: number;
                                sold: number;
                            }[];
                            holdSeconds: number;
                            holdExtensionSeconds: number;
                            maxTicketsPerCustomer: number;
                            queue: {
                                enabled: boolean;
                                admitPerMinute: number;
                                maxActiveShoppers: number;
                                passSeconds: number;
                                proofOfWork: boolean;
                            };
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel an event (idempotent)
         * @description Sales stop at once and live seat-map streams end with an `end` message. Every confirmed order is cancelled and refunded: a first batch before this answers, the rest by the maintenance leader within seconds (resumable, idempotent). Ticket holders and the waitlist get an `event.cancelled` notice.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            eventId: string;
                            /** Format: uuid */
                            venueId: string;
                            title: string;
                            description: string;
                            performers: string[];
                            venueName: string;
                            city: string;
                            /** Format: date-time */
                            startsAt: string;
                            /** Format: date-time */
                            onSaleAt: string;
                            status: "scheduled" | "on_sale" | "sold_out" | "ended" | "cancelled";
                            capacity: number;
                            zones: {
                                key: string;
                                name: string;
                                priceCents: number;
                                currency: string;
                                sections: string[];
                                capacity: number;
                                available: number;
                                held: number;
                                sold: number;
                            }[];
                            holdSeconds: number;
                            holdExtensionSeconds: number;
                            maxTicketsPerCustomer: number;
                            queue: {
                                enabled: boolean;
                                admitPerMinute: number;
                                maxActiveShoppers: number;
                                passSeconds: number;
                                proofOfWork: boolean;
                            };
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/seatmap": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Live seat map
         * @description Served from a per-node cache at most 250 ms old; `version` says which live deltas apply on top. gzip when the client accepts it.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            eventId: string;
                            version: number;
                            sections: {
                                key: string;
                                name: string;
                                kind: "seated" | "standing";
                                zone: string;
                                capacity: number;
                                available: number;
                                rows: {
                                    label: string;
                                    seats: {
                                        id: string;
                                        number: number;
                                        status: "available" | "held" | "sold";
                                    }[];
                                }[];
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/holds": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Hold seats, or N tickets of a zone (best available)
         * @description All or nothing. On an event with a queue, send the X-Queue-Pass header. 503 `service_unavailable` (with Retry-After and `reason: "store_busy"`): the store's hold queue for the event is too deep to answer in time; nothing was decided, the pass and the fan's place are kept, retry after Retry-After. A retry whose Idempotency-Key already has a recorded reply gets that reply, busy or not, whether or not its queue pass is still valid, and once the sale is over.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    "idempotency-key"?: string;
                    "x-queue-pass"?: string;
                };
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        seats: string[];
                    } | {
                        zone: string;
                        quantity: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            holdId: string;
                            /** Format: uuid */
                            eventId: string;
                            status: "held" | "purchased" | "released" | "expired";
                            /** Format: date-time */
                            expiresAt: string;
                            extended: boolean;
                            adjacent: boolean;
                            items: {
                                ticketNo: number;
                                seatId: string | null;
                                section: string;
                                row: string | null;
                                number: number | null;
                                zone: string;
                                priceCents: number;
                            }[];
                            totalCents: number;
                            currency: string;
                            /** Format: date-time */
                            createdAt: string;
                            offer?: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/holds/{holdId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A hold (owner only) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    holdId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            holdId: string;
                            /** Format: uuid */
                            eventId: string;
                            status: "held" | "purchased" | "released" | "expired";
                            /** Format: date-time */
                            expiresAt: string;
                            extended: boolean;
                            adjacent: boolean;
                            items: {
                                ticketNo: number;
                                seatId: string | null;
                                section: string;
                                row: string | null;
                                number: number | null;
                                zone: string;
                                priceCents: number;
                            }[];
                            totalCents: number;
                            currency: string;
                            /** Format: date-time */
                            createdAt: string;
                            offer?: boolean;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Release a hold now */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    holdId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/holds": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The customer's live holds */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            data: {
                                /** Format: uuid */
                                holdId: string;
                                /** Format: uuid */
                                eventId: string;
                                status: "held" | "purchased" | "released" | "expired";
                                /** Format: date-time */
                                expiresAt: string;
                                extended: boolean;
                                adjacent: boolean;
                                items: {
                                    ticketNo: number;
                                    seatId: string | null;
                                    section: string;
                                    row: string | null;
                                    number: number | null;
                                    zone: string;
                                    priceCents: number;
                                }[];
                                totalCents: number;
                                currency: string;
                                /** Format: date-time */
                                createdAt: string;
                                offer?: boolean;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/holds/{holdId}/extend": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Extend a hold once by the event's allowance */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    holdId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            holdId: string;
                            /** Format: uuid */
                            eventId: string;
                            status: "held" | "purchased" | "released" | "expired";
                            /** Format: date-time */
                            expiresAt: string;
                            extended: boolean;
                            adjacent: boolean;
                            items: {
                                ticketNo: number;
                                seatId: string | null;
                                section: string;
                                row: string | null;
                                number: number | null;
                                zone: string;
                                priceCents: number;
                            }[];
                            totalCents: number;
                            currency: string;
                            /** Format: date-time */
                            createdAt: string;
                            offer?: boolean;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/holds/{holdId}/checkout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Check out a hold: order, payment, tickets
         * @description Idempotency-Key is required; a retry with it returns the first reply.
         */
        post: {
            parameters: {
                query?: never;
                header: {
                    "idempotency-key": string;
                };
                path: {
                    holdId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        paymentMethod: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            orderId: string;
                            /** Format: uuid */
                            eventId: string;
                            /** Format: uuid */
                            holdId: string;
                            status: "pending_payment" | "confirmed" | "payment_failed" | "cancelled";
                            totalCents: number;
                            currency: string;
                            failureReason: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            confirmedAt: string | null;
                            /** Format: date-time */
                            cancelledAt: string | null;
                            payment: {
                                /** Format: uuid */
                                paymentId: string;
                                provider: string;
                                method: string;
                                status: "pending" | "captured" | "declined";
                                amountCents: number;
                                declineReason: string | null;
                                nextAction: {
                                    type: "use_stripe_sdk" | "redirect_to_url";
                                    clientSecret: string;
                                    redirectUrl: string | null;
                                } | null;
                                refund: {
                                    /** Format: uuid */
                                    refundId: string;
                                    status: "requested" | "succeeded" | "failed";
                                    reason: string;
                                    amountCents: number;
                                    failureReason: string | null;
                                } | null;
                            } | null;
                            tickets: {
                                /** Format: uuid */
                                ticketId: string;
                                seatId: string | null;
                                section: string;
                                row: string | null;
                                number: number | null;
                                zone: string;
                                priceCents: number;
                                code: string;
                                status: "valid" | "cancelled";
                                /** Format: date-time */
                                checkedInAt: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orders/{orderId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An order with its tickets (owner or organizer) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    orderId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            orderId: string;
                            /** Format: uuid */
                            eventId: string;
                            /** Format: uuid */
                            holdId: string;
                            status: "pending_payment" | "confirmed" | "payment_failed" | "cancelled";
                            totalCents: number;
                            currency: string;
                            failureReason: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            confirmedAt: string | null;
                            /** Format: date-time */
                            cancelledAt: string | null;
                            payment: {
                                /** Format: uuid */
                                paymentId: string;
                                provider: string;
                                method: string;
                                status: "pending" | "captured" | "declined";
                                amountCents: number;
                                declineReason: string | null;
                                nextAction: {
                                    type: "use_stripe_sdk" | "redirect_to_url";
                                    clientSecret: string;
                                    redirectUrl: string | null;
                                } | null;
                                refund: {
                                    /** Format: uuid */
                                    refundId: string;
                                    status: "requested" | "succeeded" | "failed";
                                    reason: string;
                                    amountCents: number;
                                    failureReason: string | null;
                                } | null;
                            } | null;
                            tickets: {
                                /** Format: uuid */
                                ticketId: string;
                                seatId: string | null;
                                section: string;
                                row: string | null;
                                number: number | null;
                                zone: string;
                                priceCents: number;
                                code: string;
                                status: "valid" | "cancelled";
                                /** Format: date-time */
                                checkedInAt: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/orders": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The customer's orders */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            data: {
                                /** Format: uuid */
                                orderId: string;
                                /** Format: uuid */
                                eventId: string;
                                /** Format: uuid */
                                holdId: string;
                                status: "pending_payment" | "confirmed" | "payment_failed" | "cancelled";
                                totalCents: number;
                                currency: string;
                                failureReason: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                confirmedAt: string | null;
                                /** Format: date-time */
                                cancelledAt: string | null;
                                payment: {
                                    /** Format: uuid */
                                    paymentId: string;
                                    provider: string;
                                    method: string;
                                    status: "pending" | "captured" | "declined";
                                    amountCents: number;
                                    declineReason: string | null;
                                    nextAction: {
                                        type: "use_stripe_sdk" | "redirect_to_url";
                                        clientSecret: string;
                                        redirectUrl: string | null;
                                    } | null;
                                    refund: {
                                        /** Format: uuid */
                                        refundId: string;
                                        status: "requested" | "succeeded" | "failed";
                                        reason: string;
                                        amountCents: number;
                                        failureReason: string | null;
                                    } | null;
                                } | null;
                                tickets: {
                                    /** Format: uuid */
                                    ticketId: string;
                                    seatId: string | null;
                                    section: string;
                                    row: string | null;
                                    number: number | null;
                                    zone: string;
                                    priceCents: number;
                                    code: string;
                                    status: "valid" | "cancelled";
                                    /** Format: date-time */
                                    checkedInAt: string | null;
                                }[];
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orders/{orderId}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel an order: refund, tickets back to the pool
         * @description A fan is refused 409 not_cancellable once a ticket was scanned or the event started; an organizer may still refund (scanned seats stay sold).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    orderId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            orderId: string;
                            /** Format: uuid */
                            eventId: string;
                            /** Format: uuid */
                            holdId: string;
                            status: "pending_payment" | "confirmed" | "payment_failed" | "cancelled";
                            totalCents: number;
                            currency: string;
                            failureReason: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            confirmedAt: string | null;
                            /** Format: date-time */
                            cancelledAt: string | null;
                            payment: {
                                /** Format: uuid */
                                paymentId: string;
                                provider: string;
                                method: string;
                                status: "pending" | "captured" | "declined";
                                amountCents: number;
                                declineReason: string | null;
                                nextAction: {
                                    type: "use_stripe_sdk" | "redirect_to_url";
                                    clientSecret: string;
                                    redirectUrl: string | null;
                                } | null;
                                refund: {
                                    /** Format: uuid */
                                    refundId: string;
                                    status: "requested" | "succeeded" | "failed";
                                    reason: string;
                                    amountCents: number;
                                    failureReason: string | null;
                                } | null;
                            } | null;
                            tickets: {
                                /** Format: uuid */
                                ticketId: string;
                                seatId: string | null;
                                section: string;
                                row: string | null;
                                number: number | null;
                                zone: string;
                                priceCents: number;
                                code: string;
                                status: "valid" | "cancelled";
                                /** Format: date-time */
                                checkedInAt: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/checkins": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Check a ticket code in (first scan only)
         * @description Takes the admin token or a check-in token of this event.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        code: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            ticketId: string;
                            /** Format: uuid */
                            orderId: string;
                            /** Format: uuid */
                            eventId: string;
                            seatId: string | null;
                            section: string;
                            row: string | null;
                            number: number | null;
                            zone: string;
                            /** Format: date-time */
                            checkedInAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/checkins/summary": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The door's tally: valid tickets and how many are in
         * @description Takes the admin token or a check-in token of this event.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            eventId: string;
                            title: string;
                            /** Format: date-time */
                            startsAt: string;
                            valid: number;
                            checkedIn: number;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/events/{eventId}/checkin-tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An event's check-in tokens (without the tokens) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            data: {
                                /** Format: uuid */
                                tokenId: string;
                                /** Format: uuid */
                                eventId: string;
                                label: string;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                expiresAt: string;
                                /** Format: date-time */
                                revokedAt: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        /**
         * Create a check-in token for door staff of one event
         * @description The token can only check tickets in at this event (and read its door tally). It is shown once, in this reply; revoke it with DELETE.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        label?: string;
                        /** @default 48 */
                        validHours?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            tokenId: string;
                            /** Format: uuid */
                            eventId: string;
                            label: string;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            expiresAt: string;
                            /** Format: date-time */
                            revokedAt: string | null;
                            token: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/events/{eventId}/checkin-tokens/{tokenId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a check-in token at once */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                    tokenId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/payments/webhooks/{provider}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Payment provider webhook (signature-verified) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    provider: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            received: boolean;
                            duplicate: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/queue": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Join the waiting room (idempotent per customer) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        proofOfWork?: string;
                    } | null;
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            state: "pre_queue" | "waiting" | "admitted" | "expired" | "sold_out" | "left";
                            number: number | null;
                            position: number | null;
                            etaSeconds: number | null;
                            servedUpTo: number;
                            pass?: string;
                            /** Format: date-time */
                            passExpiresAt?: string;
                            /**
                             * Format: date-time
                             * @description Admitted, pass not used yet: place a first hold with it by then, or the slot goes to the next fan
                             */
                            claimBy?: string;
                            /** @description Tickets left, as the last admission tick saw them */
                            tickets?: {
                                /** @description Free to hold now */
                                available: number;
                                /** @description In live holds; some may come back */
                                inCarts: number;
                                /** @description Near the end of the sale: the most tickets one fan can still get together (seats side by side in a row, or standing), up to the per-customer limit; 1 means only single seats are left */
                                together?: number;
                            };
                            /** @description open: tickets left for the fans ahead (etaSeconds is set once the line has a pace); in_carts: what is left for this fan is in someone's cart (any free tickets go to the fans ahead), no time can be promised; unlikely: what is left cannot serve the fans ahead (too few tickets, or not enough together for the groups fans take); sold_out */
                            outlook?: "open" | "in_carts" | "unlikely" | "sold_out";
                            /** @description POST here to move from the line to the waitlist in one step */
                            waitlistUrl?: string;
                            /** @description Why the fan is out of the line. Always on a `left` view: `left` (they left), `waitlist` (they moved to the waitlist), `purchased` (their order for the event completed while they waited). On an `expired` view only as `purchased`: their own completed order freed the slot, so the turn ended because they bought */
                            leftReason?: "left" | "waitlist" | "purchased";
                        };
                    };
                };
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            state: "pre_queue" | "waiting" | "admitted" | "expired" | "sold_out" | "left";
                            number: number | null;
                            position: number | null;
                            etaSeconds: number | null;
                            servedUpTo: number;
                            pass?: string;
                            /** Format: date-time */
                            passExpiresAt?: string;
                            /**
                             * Format: date-time
                             * @description Admitted, pass not used yet: place a first hold with it by then, or the slot goes to the next fan
                             */
                            claimBy?: string;
                            /** @description Tickets left, as the last admission tick saw them */
                            tickets?: {
                                /** @description Free to hold now */
                                available: number;
                                /** @description In live holds; some may come back */
                                inCarts: number;
                                /** @description Near the end of the sale: the most tickets one fan can still get together (seats side by side in a row, or standing), up to the per-customer limit; 1 means only single seats are left */
                                together?: number;
                            };
                            /** @description open: tickets left for the fans ahead (etaSeconds is set once the line has a pace); in_carts: what is left for this fan is in someone's cart (any free tickets go to the fans ahead), no time can be promised; unlikely: what is left cannot serve the fans ahead (too few tickets, or not enough together for the groups fans take); sold_out */
                            outlook?: "open" | "in_carts" | "unlikely" | "sold_out";
                            /** @description POST here to move from the line to the waitlist in one step */
                            waitlistUrl?: string;
                            /** @description Why the fan is out of the line. Always on a `left` view: `left` (they left), `waitlist` (they moved to the waitlist), `purchased` (their order for the event completed while they waited). On an `expired` view only as `purchased`: their own completed order freed the slot, so the turn ended because they bought */
                            leftReason?: "left" | "waitlist" | "purchased";
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/queue/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** My place in the waiting room */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            state: "pre_queue" | "waiting" | "admitted" | "expired" | "sold_out" | "left";
                            number: number | null;
                            position: number | null;
                            etaSeconds: number | null;
                            servedUpTo: number;
                            pass?: string;
                            /** Format: date-time */
                            passExpiresAt?: string;
                            /**
                             * Format: date-time
                             * @description Admitted, pass not used yet: place a first hold with it by then, or the slot goes to the next fan
                             */
                            claimBy?: string;
                            /** @description Tickets left, as the last admission tick saw them */
                            tickets?: {
                                /** @description Free to hold now */
                                available: number;
                                /** @description In live holds; some may come back */
                                inCarts: number;
                                /** @description Near the end of the sale: the most tickets one fan can still get together (seats side by side in a row, or standing), up to the per-customer limit; 1 means only single seats are left */
                                together?: number;
                            };
                            /** @description open: tickets left for the fans ahead (etaSeconds is set once the line has a pace); in_carts: what is left for this fan is in someone's cart (any free tickets go to the fans ahead), no time can be promised; unlikely: what is left cannot serve the fans ahead (too few tickets, or not enough together for the groups fans take); sold_out */
                            outlook?: "open" | "in_carts" | "unlikely" | "sold_out";
                            /** @description POST here to move from the line to the waitlist in one step */
                            waitlistUrl?: string;
                            /** @description Why the fan is out of the line. Always on a `left` view: `left` (they left), `waitlist` (they moved to the waitlist), `purchased` (their order for the event completed while they waited). On an `expired` view only as `purchased`: their own completed order freed the slot, so the turn ended because they bought */
                            leftReason?: "left" | "waitlist" | "purchased";
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /**
         * Leave the waiting room, or give back a pass
         * @description Waiting: you leave the line (your number is passed over). Admitted: your pass is given back and its slot goes to the next fan at the next tick. Holds you already have are kept. Final for this event: a second call is 409 already_left, and a re-join answers state "left".
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": Record<string, never> | null;
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            state: "pre_queue" | "waiting" | "admitted" | "expired" | "sold_out" | "left";
                            number: number | null;
                            position: number | null;
                            etaSeconds: number | null;
                            servedUpTo: number;
                            pass?: string;
                            /** Format: date-time */
                            passExpiresAt?: string;
                            /**
                             * Format: date-time
                             * @description Admitted, pass not used yet: place a first hold with it by then, or the slot goes to the next fan
                             */
                            claimBy?: string;
                            /** @description Tickets left, as the last admission tick saw them */
                            tickets?: {
                                /** @description Free to hold now */
                                available: number;
                                /** @description In live holds; some may come back */
                                inCarts: number;
                                /** @description Near the end of the sale: the most tickets one fan can still get together (seats side by side in a row, or standing), up to the per-customer limit; 1 means only single seats are left */
                                together?: number;
                            };
                            /** @description open: tickets left for the fans ahead (etaSeconds is set once the line has a pace); in_carts: what is left for this fan is in someone's cart (any free tickets go to the fans ahead), no time can be promised; unlikely: what is left cannot serve the fans ahead (too few tickets, or not enough together for the groups fans take); sold_out */
                            outlook?: "open" | "in_carts" | "unlikely" | "sold_out";
                            /** @description POST here to move from the line to the waitlist in one step */
                            waitlistUrl?: string;
                            /** @description Why the fan is out of the line. Always on a `left` view: `left` (they left), `waitlist` (they moved to the waitlist), `purchased` (their order for the event completed while they waited). On an `expired` view only as `purchased`: their own completed order freed the slot, so the turn ended because they bought */
                            leftReason?: "left" | "waitlist" | "purchased";
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/queue/me/waitlist": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Move from the waiting room to the waitlist in one step
         * @description For a fan the line cannot serve (the view says sold_out, in_carts or unlikely and carries waitlistUrl): joins the event's waitlist and leaves the line (a live pass is given back). Fans who move from the line are offered returned tickets in line order, whenever each of them moved. Refusals of the waitlist (over the per-customer limit, an unknown zone) leave the fan in line.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        zone?: string;
                        quantity: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            queue: {
                                state: "pre_queue" | "waiting" | "admitted" | "expired" | "sold_out" | "left";
                                number: number | null;
                                position: number | null;
                                etaSeconds: number | null;
                                servedUpTo: number;
                                pass?: string;
                                /** Format: date-time */
                                passExpiresAt?: string;
                                /**
                                 * Format: date-time
                                 * @description Admitted, pass not used yet: place a first hold with it by then, or the slot goes to the next fan
                                 */
                                claimBy?: string;
                                /** @description Tickets left, as the last admission tick saw them */
                                tickets?: {
                                    /** @description Free to hold now */
                                    available: number;
                                    /** @description In live holds; some may come back */
                                    inCarts: number;
                                    /** @description Near the end of the sale: the most tickets one fan can still get together (seats side by side in a row, or standing), up to the per-customer limit; 1 means only single seats are left */
                                    together?: number;
                                };
                                /** @description open: tickets left for the fans ahead (etaSeconds is set once the line has a pace); in_carts: what is left for this fan is in someone's cart (any free tickets go to the fans ahead), no time can be promised; unlikely: what is left cannot serve the fans ahead (too few tickets, or not enough together for the groups fans take); sold_out */
                                outlook?: "open" | "in_carts" | "unlikely" | "sold_out";
                                /** @description POST here to move from the line to the waitlist in one step */
                                waitlistUrl?: string;
                                /** @description Why the fan is out of the line. Always on a `left` view: `left` (they left), `waitlist` (they moved to the waitlist), `purchased` (their order for the event completed while they waited). On an `expired` view only as `purchased`: their own completed order freed the slot, so the turn ended because they bought */
                                leftReason?: "left" | "waitlist" | "purchased";
                            };
                            waitlist: {
                                /** Format: uuid */
                                eventId: string;
                                zone: string | null;
                                quantity: number;
                                position: number | null;
                                status: "waiting" | "offered" | "fulfilled" | "left" | "closed";
                                /** Format: uuid */
                                holdId?: string;
                                /** Format: date-time */
                                offerExpiresAt?: string;
                                /** Format: date-time */
                                createdAt: string;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/queue/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Server-Sent Events of my place in the waiting room (event "queue")
         * @description Each message is the same object as queue/me, with the tick sequence as its id; send Last-Event-ID when reconnecting. Heartbeats are comment lines. The server ends the stream after a final sold_out, expired or left message, at once for an event without a queue, and after a maximum lifetime (reconnect then). A few streams per customer per node: more are refused with 429.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description text/event-stream */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": string;
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/queue/challenge": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A proof-of-work challenge for joining (ALTCHA) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            algorithm: string;
                            challenge: string;
                            maxnumber?: number;
                            salt: string;
                            signature: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/live": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Server-Sent Events of the live seat map and availability
         * @description Messages: `snapshot` first (counts per zone and section, one status character per seat: a available, h held, s sold), then `seats` {version, prevVersion, changes} and `availability` {version, prevVersion, zones, sections} per batch (within 250 ms), and `end` when the event is cancelled. A `seats` message whose prevVersion is not your version means a gap: reconnect (SSE) or send {"type":"snapshot"} (WebSocket) for a fresh snapshot. See docs/REALTIME.md. Each message's id is its version; reconnect with Last-Event-ID to get only what you missed (or a snapshot when this node no longer has it). Heartbeats are comment lines. A client that lets more than LIVE_MAX_BUFFERED_BYTES pile up is dropped.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description text/event-stream */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": string;
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/ws": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WebSocket of the live seat map and availability
         * @description Messages: `snapshot` first (counts per zone and section, one status character per seat: a available, h held, s sold), then `seats` {version, prevVersion, changes} and `availability` {version, prevVersion, zones, sections} per batch (within 250 ms), and `end` when the event is cancelled. A `seats` message whose prevVersion is not your version means a gap: reconnect (SSE) or send {"type":"snapshot"} (WebSocket) for a fresh snapshot. See docs/REALTIME.md. One JSON text frame per message: {"type": "<message>", ...}. The server pings; a client that lets more than LIVE_MAX_BUFFERED_BYTES pile up is dropped. Without an Upgrade header: 426.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description switching protocols */
                101: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                426: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/events/{eventId}/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Live on-sale figures
         * @description Served from a per-node cache up to STATS_CACHE_MS (1 s) old; asOf says when the figures were computed.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            eventId: string;
                            /** Format: date-time */
                            asOf: string;
                            queue: {
                                enabled: boolean;
                                joined: number;
                                preQueue: number;
                                /** @description Everyone in line: joined, not admitted, not gone (the pre-queue included) */
                                waiting: number;
                                servedUpTo: number;
                                admitted: number;
                                activeShoppers: number;
                                admissionsPerMinute: number;
                                soldOut: boolean;
                                closedAt: string | null;
                                left: number;
                                movedToWaitlist: number;
                                /** @description Shopper slots freed before their pass ran out (order complete, given back, idle) and slots that lapsed by time (claim grace or pass expiry) */
                                freed: {
                                    order: number;
                                    left: number;
                                    idle: number;
                                    lapsed: number;
                                };
                                /** @description Store-paced admission as of the last tick: the share of admitPerMinute admitted at (1: not slowed), the hold queue wait a store node reported (null: none, healthy), whether a store node refused holds as busy (503), and the live-shopper cap admitted against (maxActiveShoppers × factor, never below one tick's admissions; maxActiveShoppers when not slowed) */
                                storePace: {
                                    factor: number;
                                    storeWaitMs: number | null;
                                    refusing: boolean;
                                    liveCap: number;
                                };
                            };
                            tickets: {
                                capacity: number;
                                available: number;
                                held: number;
                                sold: number;
                            };
                            activeHolds: number;
                            orders: {
                                confirmed: number;
                                pendingPayment: number;
                                paymentFailed: number;
                                cancelled: number;
                            };
                            revenueCents: number;
                            currency: string;
                            /** @description The last six windows of the series (the open one and five before it), as holdLatency; sales and orders by confirmation time */
                            lastMinute: {
                                holds: number;
                                ticketsSold: number;
                                orders: number;
                            };
                            /** @description Hold request latency over the last minute, across every node (histogram quantiles, linear within a bucket); null without samples. */
                            holdLatency: {
                                samples: number;
                                latencyMsP50: number | null;
                                latencyMsP99: number | null;
                            };
                            /** @description The last two minutes in windows of stepSeconds, oldest first (the last window is the current one, still open): a dashboard opened mid-sale starts its charts from it, then appends what it polls. Read from the tables; a node keeps the windows that closed longer ago than the statement timeout plus 10 s (25 s by default; on a standby, before its last replayed commit) and reads them all again once a minute, so a row written late into a kept window shows within a minute. */
                            series: {
                                stepSeconds: number;
                                points: {
                                    /** Format: date-time */
                                    at: string;
                                    holds: number;
                                    ticketsSold: number;
                                    orders: number;
                                    revenueCents: number;
                                    joined: number;
                                    admitted: number;
                                    /** @description Fans in line (pre-queue and waiting) at the window's end, walked back from queue.waiting by the later windows' joins, admissions and departures */
                                    queueLength: number;
                                    /** @description Holds live at the window's end, walked back from activeHolds by the later windows' holds made and ended */
                                    activeHolds: number;
                                    holdLatencyMsP99: number | null;
                                }[];
                            };
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/orders": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Find orders by order id, ticket code or customer e-mail
         * @description q is taken as an order id when it is a UUID, as an e-mail when it has an @, else as a ticket code; without q, the newest orders. Newest first. refundStatus=failed lists orders whose refund the provider failed (pay back by hand).
         */
        get: {
            parameters: {
                query?: {
                    q?: string;
                    eventId?: string;
                    refundStatus?: "requested" | "succeeded" | "failed";
                    limit?: number;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            data: {
                                /** Format: uuid */
                                orderId: string;
                                /** Format: uuid */
                                eventId: string;
                                /** Format: uuid */
                                holdId: string;
                                status: "pending_payment" | "confirmed" | "payment_failed" | "cancelled";
                                totalCents: number;
                                currency: string;
                                failureReason: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                confirmedAt: string | null;
                                /** Format: date-time */
                                cancelledAt: string | null;
                                payment: {
                                    /** Format: uuid */
                                    paymentId: string;
                                    provider: string;
                                    method: string;
                                    status: "pending" | "captured" | "declined";
                                    amountCents: number;
                                    declineReason: string | null;
                                    nextAction: {
                                        type: "use_stripe_sdk" | "redirect_to_url";
                                        clientSecret: string;
                                        redirectUrl: string | null;
                                    } | null;
                                    refund: {
                                        /** Format: uuid */
                                        refundId: string;
                                        status: "requested" | "succeeded" | "failed";
                                        reason: string;
                                        amountCents: number;
                                        failureReason: string | null;
                                    } | null;
                                } | null;
                                tickets: {
                                    /** Format: uuid */
                                    ticketId: string;
                                    seatId: string | null;
                                    section: string;
                                    row: string | null;
                                    number: number | null;
                                    zone: string;
                                    priceCents: number;
                                    code: string;
                                    status: "valid" | "cancelled";
                                    /** Format: date-time */
                                    checkedInAt: string | null;
                                }[];
                                customer: {
                                    /** Format: uuid */
                                    customerId: string;
                                    email: string;
                                    name: string;
                                };
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/venues": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The newest venues (without layouts), for event forms */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            data: {
                                /** Format: uuid */
                                venueId: string;
                                name: string;
                                city: string;
                                capacity: number;
                                /** Format: date-time */
                                createdAt: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/{eventId}/waitlist": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Join the event's waitlist (idempotent per customer)
         * @description Open while the wanted zone (any zone without one) cannot sell the quantity. When tickets come back, the earliest entry they can serve in full gets an offer: a hold made for the fan (listed in /me/holds with offer: true), bought through the normal checkout. 201 when added, 200 with the entry unchanged when already waiting or offered.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        zone?: string;
                        quantity: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            eventId: string;
                            zone: string | null;
                            quantity: number;
                            position: number | null;
                            status: "waiting" | "offered" | "fulfilled" | "left" | "closed";
                            /** Format: uuid */
                            holdId?: string;
                            /** Format: date-time */
                            offerExpiresAt?: string;
                            /** Format: date-time */
                            createdAt: string;
                        };
                    };
                };
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: uuid */
                            eventId: string;
                            zone: string | null;
                            quantity: number;
                            position: number | null;
                            status: "waiting" | "offered" | "fulfilled" | "left" | "closed";
                            /** Format: uuid */
                            holdId?: string;
                            /** Format: date-time */
                            offerExpiresAt?: string;
                            /** Format: date-time */
                            createdAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        /** Leave the event's waitlist (a live offer is released to the next fan) */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/waitlist": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The customer's waitlist entries, newest first */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            data: {
                                /** Format: uuid */
                                eventId: string;
                                zone: string | null;
                                quantity: number;
                                position: number | null;
                                status: "waiting" | "offered" | "fulfilled" | "left" | "closed";
                                /** Format: uuid */
                                holdId?: string;
                                /** Format: date-time */
                                offerExpiresAt?: string;
                                /** Format: date-time */
                                createdAt: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Server-Sent Events of my notifications (event "notification")
         * @description Each message is `{id, kind, eventId, title, body, holdId?, orderId?, at}` with kind one of queue.admitted, waitlist.offered, order.confirmed, order.payment_failed, order.refunded, event.cancelled, queue.closed; the SSE id is the notification id. Reconnect with Last-Event-ID to receive what was sent since (up to 100). Heartbeats are comment lines; the server ends the stream after a maximum lifetime. A few streams per customer per node: more get 429.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description text/event-stream */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": string;
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail?: string;
                            code: string;
                            instance?: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: never;
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
