import * as ProductScreen from "@point_of_sale/../tests/tours/utils/product_screen_util";
import * as PaymentScreen from "@point_of_sale/../tests/tours/utils/payment_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/tours/utils/receipt_screen_util";
import * as TicketScreen from "@point_of_sale/../tests/tours/utils/ticket_screen_util";
import * as NumberPopup from "@point_of_sale/../tests/tours/utils/number_popup_util";
import * as TextInputPopup from "@point_of_sale/../tests/tours/utils/text_input_popup_util";
import * as Chrome from "@point_of_sale/../tests/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/tours/utils/dialog_util";
import {scan_barcode} from "@point_of_sale/../tests/tours/utils/common";
import {registry} from "@web/core/registry";
/* global posmodel */

const CARD = "7711000000000013";

function memberShown(name, balance) {
    return [
        {content: `member ${name} shown`, trigger: `.o_loyalty_club_member_name:contains("${name}")`},
        // the number only: the word "points" is translated (a Persian till runs these tours too)
        {content: `balance ${balance}`, trigger: `.o_loyalty_club_balance .fw-bold:contains("${balance}")`},
    ];
}

/** The server holds ``points`` of the card for the till's payments (what the back office shows). */
function serverHolds(points) {
    return [
        {
            content: `the server holds ${points} points of the card`,
            trigger: "body",
            run: async () => {
                const [card] = await posmodel.data.call("pos.config", "loyalty_club_find_card", [
                    [posmodel.config.id],
                    CARD,
                ]);
                if (card.points_held !== points) {
                    throw new Error(`${card.points_held} points held instead of ${points}`);
                }
            },
        },
    ];
}

function receiptHas(selector, text) {
    return {content: `receipt shows ${text}`, trigger: `.pos-receipt ${selector}:contains("${text}")`};
}

registry.category("web_tour.tours").add("LoyaltyClubPosTour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ProductScreen.addOrderline("Club Shirt", "1"),
            // Identify the member by a local phone number typed by the cashier.
            {content: "open the club card dialog", trigger: ".o_loyalty_club_card_button", run: "click"},
            TextInputPopup.inputText("09121112233"),
            Dialog.confirm("Apply"),
            ...memberShown("Nima Member", 100),
            {content: "points to earn", trigger: ".o_loyalty_club_estimate:contains('+10 points')"},
            // Remove the card, then scan it (barcode nomenclature rule of the card prefix).
            {content: "remove the card", trigger: ".o_loyalty_club_remove", run: "click"},
            {
                content: "card removed",
                trigger: ".product-screen:not(:has(.o_loyalty_club_member))",
            },
            scan_barcode(CARD),
            ...memberShown("Nima Member", 100),
            ProductScreen.clickPayButton(),
            // Wrong PIN first: refused by the server with the uniform message.
            PaymentScreen.clickPaymentMethod("Club points"),
            {
                content: "the PIN keypad has digits and backspace, no decimal point",
                trigger:
                    ".modal .numpad:has(button[value='0']):has(button[value='⌫']):not(:has(button[value='.']))",
            },
            NumberPopup.enterValue("1111"),
            Dialog.confirm(),
            {content: "uniform PIN error", trigger: '.modal-body:contains("Unknown card, wrong PIN")'},
            Dialog.confirm(),
            // Right PIN, then 40 points (20.00) paid with points, the rest in cash.
            PaymentScreen.clickPaymentMethod("Club points"),
            NumberPopup.enterValue("2468"),
            Dialog.confirm(),
            {content: "points are asked in points", trigger: '.modal-body:contains("100 points available")'},
            NumberPopup.enterValue("40"),
            Dialog.confirm(),
            PaymentScreen.selectedPaymentlineHas("Club points", "20.00"),
            ...serverHolds(40),
            // Typing on a held points line changes its points (the PIN asked again): given up here.
            PaymentScreen.clickNumpad("5"),
            {content: "the PIN is asked again", trigger: ".modal-title:contains('Member')"},
            Dialog.cancel(),
            {content: "no popup left", trigger: "body:not(:has(.modal))"},
            PaymentScreen.selectedPaymentlineHas("Club points", "20.00"),
            ...serverHolds(40),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_club_receipt", "•••• 0013"),
            receiptHas(".o_loyalty_club_receipt_redeemed", "-40"),
            // the 80.00 paid in cash earn (the club earns nothing on the part paid with points)
            receiptHas(".o_loyalty_club_receipt_earned", "+8"),
            receiptHas(".o_loyalty_club_receipt_balance", "68"),
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});

registry.category("web_tour.tours").add("LoyaltyClubPosRefundTour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ...ProductScreen.clickRefund(),
            TicketScreen.selectOrder("Nima Member"),
            ProductScreen.clickNumpad("1"),
            TicketScreen.toRefundTextContains("To Refund: 1.00"),
            TicketScreen.confirmRefund(),
            ProductScreen.isShown(),
            {
                content: "refund keeps the member",
                trigger: ".o_loyalty_club_member_name:contains('Nima Member')",
            },
            ProductScreen.clickPayButton(),
            // The points paid on the sold order go back as points, proposed by the till: the
            // whole order, 40 points (20.00); the cash share goes back in cash.
            PaymentScreen.selectedPaymentlineHas("Club points", "-20.00"),
            {
                content: "the points given back are shown in points",
                trigger: '.paymentline.selected .o_loyalty_club_line_points:contains("-40 pts")',
            },
            // Paying the whole refund out in cash is refused.
            PaymentScreen.clickPaymentlineDelButton("Club points", "-20.00"),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.selectedPaymentlineHas("Cash", "-100.00"),
            PaymentScreen.clickValidate(),
            {content: "points not paid out in cash", trigger: '.modal-body:contains("at most")'},
            Dialog.confirm(),
            PaymentScreen.clickPaymentlineDelButton("Cash", "-100.00"),
            PaymentScreen.clickPaymentMethod("Club points"),
            PaymentScreen.selectedPaymentlineHas("Club points", "-20.00"),
            {
                content: "points given back, in points",
                trigger: '.paymentline.selected .o_loyalty_club_line_points:contains("-40 pts")',
            },
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_club_receipt_returned", "+40"),
            receiptHas(".o_loyalty_club_receipt_reversed", "-8"),
            receiptHas(".o_loyalty_club_receipt_balance", "100"),
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});

registry.category("web_tour.tours").add("LoyaltyClubPosWindowTour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ProductScreen.addOrderline("Club Shirt", "1"),
            scan_barcode(CARD),
            ...memberShown("Nima Member", 100),
            {
                content: "the window's discount is on the line and named",
                trigger: ".orderline .o_loyalty_club_window:contains('Happy hours')",
            },
            ProductScreen.totalAmountIs("90.00"),
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_club_window", "Happy hours"),
            receiptHas(".o_loyalty_club_receipt_earned", "+9"),
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});

// The cashier's flow with the till in Persian: only language-independent selectors.
registry.category("web_tour.tours").add("LoyaltyClubPosPersianTour", {
    steps: () =>
        [
            {content: "the till is right-to-left", trigger: "html[dir='rtl'], .o_rtl"},
            Chrome.startPoS(),
            Dialog.confirm(),
            ProductScreen.addOrderline("Club Shirt", "1"),
            {content: "open the club card dialog", trigger: ".o_loyalty_club_card_button", run: "click"},
            {
                content: "the button speaks Persian",
                trigger: ".o_loyalty_club_card_button:contains('کارت باشگاه')",
            },
            TextInputPopup.inputText("09121112233"),
            Dialog.confirm(),
            {content: "member shown", trigger: ".o_loyalty_club_member_name:contains('Nima Member')"},
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Club points"),
            NumberPopup.enterValue("2468"),
            Dialog.confirm(),
            NumberPopup.enterValue("40"),
            Dialog.confirm(),
            PaymentScreen.selectedPaymentlineHas("Club points", "20.00"),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            // signed points and the masked number read left to right inside the RTL receipt
            receiptHas(".o_loyalty_club_receipt_redeemed span[dir='ltr']", "-40"),
            receiptHas(".o_loyalty_club_receipt_earned span[dir='ltr']", "+8"),
            receiptHas(".o_loyalty_club_receipt span[dir='ltr']", "•••• 0013"),
            receiptHas(".o_loyalty_club_receipt_balance", "68"),
            {content: "the receipt date is Solar Hijri", trigger: ".pos-receipt:contains('140')"},
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});

registry.category("web_tour.tours").add("LoyaltyClubPosLegacyScanTour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ProductScreen.addOrderline("Club Shirt", "1"),
            // A card number kept from the old system: no product has it, the till finds the card.
            scan_barcode("55501234"),
            ...memberShown("Leyla Legacy", 30),
            // Product barcodes still add products.
            scan_barcode("6260000000012"),
            ProductScreen.selectedOrderlineHas("Club Mug", "1"),
            // Neither a product nor a card: Odoo's usual notice, the member stays on the order.
            scan_barcode("4040404040"),
            {
                content: "unknown barcode notice",
                trigger: '.o_notification_title:contains("Unknown Barcode")',
            },
            ...memberShown("Leyla Legacy", 30),
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_club_receipt_earned", "+10"),
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});

// The points are held while the till is online; the till then goes offline, the order is paid
// and kept by the till, and reaches the server when the till is back online.
registry.category("web_tour.tours").add("LoyaltyClubPosOfflineHoldTour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ProductScreen.addOrderline("Club Shirt", "1"),
            scan_barcode(CARD),
            ...memberShown("Nima Member", 100),
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Club points"),
            NumberPopup.enterValue("2468"),
            Dialog.confirm(),
            NumberPopup.enterValue("60"),
            Dialog.confirm(),
            PaymentScreen.selectedPaymentlineHas("Club points", "30.00"),
            ...serverHolds(60),
            {
                content: "the till loses the network",
                trigger: "body",
                run: () => {
                    window.dispatchEvent(new Event("offline"));
                    // What Odoo does with a paid order it cannot send: it keeps it pending and
                    // shows the receipt (without Odoo's stray unhandled rejection, which would
                    // fail the tour).
                    posmodel.syncAllOrders = async () => [];
                },
            },
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_club_receipt_earned", "(estimate)"),
            {
                content: "the till is back online and sends what it kept",
                trigger: "body",
                run: async () => {
                    delete posmodel.syncAllOrders;
                    window.dispatchEvent(new Event("online"));
                    const synced = await posmodel.syncAllOrders({throw: true});
                    if (!synced?.length) {
                        throw new Error("the pending order was not sent");
                    }
                },
            },
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});

/** The points keypad: digits only, the number shown in points, the money they pay beside. */
function enterPoints(points, money) {
    return [
        {
            content: "the points keypad has digits, no decimal point",
            trigger: ".modal .numpad:has(button[value='0']):not(:has(button[value='.']))",
        },
        NumberPopup.enterValue(points),
        {
            content: `${points} points shown in points`,
            trigger: `.modal .input-value:contains("${points} pts")`,
        },
        {content: `they pay ${money}`, trigger: `.modal:contains("Pays"):contains("${money}")`},
        Dialog.confirm(),
    ];
}

function pointsLineHas(points, money) {
    return [
        {
            content: `the points line shows ${points} pts`,
            trigger: `.paymentline.selected .o_loyalty_club_line_points:contains("${points} pts")`,
        },
        PaymentScreen.selectedPaymentlineHas("Club points", money),
    ];
}

function availableIs(points) {
    return {
        content: `the payment screen shows ${points} points available`,
        trigger: `.o_loyalty_club_payment_member .o_loyalty_club_available:contains("${points} points")`,
    };
}

// Points paid in points: the balance and tier on the payment screen, the points typed on a
// keypad of digits with their money value beside, then changed in points on the numpad.
registry.category("web_tour.tours").add("LoyaltyClubPosPointsTour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ProductScreen.addOrderline("Club Shirt", "1"),
            scan_barcode(CARD),
            {
                content: "the banner's balance stands out",
                trigger: ".o_loyalty_club_member .o_loyalty_club_balance .fw-bold:contains('100')",
            },
            ProductScreen.clickPayButton(),
            {
                content: "member and tier on the payment screen",
                trigger:
                    ".o_loyalty_club_payment_member:contains('Nima Member') .o_loyalty_club_tier:contains('Silver')",
            },
            availableIs(100),
            PaymentScreen.clickPaymentMethod("Club points"),
            NumberPopup.enterValue("2468"),
            Dialog.confirm(),
            {content: "points are asked in points", trigger: '.modal-body:contains("100 points available")'},
            {content: "the most the member can pay", trigger: '.modal .input-value:contains("100 pts")'},
            ...enterPoints("60", "4.20"),
            ...pointsLineHas("60", "4.20"),
            ...serverHolds(60),
            availableIs(40),
            // Typing on the points line changes it in points.
            PaymentScreen.clickNumpad("1"),
            NumberPopup.enterValue("2468"),
            Dialog.confirm(),
            {
                content: "the line's points are available again",
                trigger: '.modal-body:contains("100 points available")',
            },
            {
                content: "the keypad starts from the line's points",
                trigger: '.modal .input-value:contains("60 pts")',
            },
            ...enterPoints("45", "3.15"),
            ...pointsLineHas("45", "3.15"),
            ...serverHolds(45),
            availableIs(55),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_club_receipt_redeemed", "-45"),
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});

// The Club card button at every width: beside Customer on a wide screen, under Actions on a
// tablet or a phone (Odoo's small-screen layout).
registry.category("web_tour.tours").add("LoyaltyClubPosCardButtonTour", {
    steps: () =>
        [
            {
                content: "the screen has the width the test asked for",
                trigger: ".pos",
                run: () => {
                    const width = new URLSearchParams(window.location.search).get("loyalty_width");
                    if (String(window.innerWidth) !== width) {
                        throw new Error(`the screen is ${window.innerWidth} px wide, not ${width}`);
                    }
                },
            },
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ProductScreen.clickDisplayedProduct("Club Shirt"),
            ProductScreen.clickReview(),
            {
                isActive: ["desktop"],
                content: "the Club card button is beside Customer",
                trigger: ".control-buttons .set-partner + .o_loyalty_club_card_button",
                run: "click",
            },
            {
                isActive: ["mobile"],
                content: "no control buttons row on a small screen",
                trigger: ".product-screen:not(:has(.control-buttons .o_loyalty_club_card_button))",
            },
            {isActive: ["mobile"], content: "open Actions", trigger: ".mobile-more-button", run: "click"},
            {
                isActive: ["mobile"],
                content: "the Club card button is under Actions",
                trigger: ".modal .o_loyalty_club_card_button",
                run: "click",
            },
            TextInputPopup.inputText("09121112233"),
            Dialog.confirm("Apply"),
            ...memberShown("Nima Member", 100),
            {content: "pay", trigger: ".product-screen .pay-order-button", run: "click"},
            PaymentScreen.clickPaymentMethod("Club points"),
            NumberPopup.enterValue("2468"),
            Dialog.confirm(),
            ...enterPoints("40", "20.00"),
            ...pointsLineHas("40", "20.00"),
            // On a small screen a tapped points line asks points, never a money amount.
            {
                isActive: ["mobile"],
                content: "tap the points line",
                trigger: ".paymentline .payment-infos:contains('Club points')",
                run: "click",
            },
            {isActive: ["mobile"], content: "the PIN is asked", trigger: ".modal-title:contains('Member')"},
            {...Dialog.cancel(), isActive: ["mobile"]},
            {content: "no popup left", trigger: "body:not(:has(.modal))"},
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_club_receipt_redeemed", "-40"),
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});
