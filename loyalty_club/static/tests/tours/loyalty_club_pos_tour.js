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

const CARD = "7711000000000013";

function memberShown(name, balance) {
    return [
        {content: `member ${name} shown`, trigger: `.o_loyalty_club_member_name:contains("${name}")`},
        {content: `balance ${balance}`, trigger: `.o_loyalty_club_balance:contains("${balance} points")`},
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
            NumberPopup.enterValue("1111"),
            Dialog.confirm(),
            {content: "uniform PIN error", trigger: '.modal-body:contains("Unknown card, wrong PIN")'},
            Dialog.confirm(),
            // Right PIN, then 20.00 paid with points (40 points), the rest in cash.
            PaymentScreen.clickPaymentMethod("Club points"),
            NumberPopup.enterValue("2468"),
            Dialog.confirm(),
            NumberPopup.enterValue("20"),
            Dialog.confirm(),
            PaymentScreen.selectedPaymentlineHas("Club points", "20.00"),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_club_receipt", "•••• 0013"),
            receiptHas(".o_loyalty_club_receipt_redeemed", "-40"),
            receiptHas(".o_loyalty_club_receipt_earned", "+10"),
            receiptHas(".o_loyalty_club_receipt_balance", "70"),
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
            // The points paid on the sold order go back in proportion: the whole order, 40 points.
            PaymentScreen.clickPaymentMethod("Club points"),
            PaymentScreen.selectedPaymentlineHas("Club points", "-20.00"),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_club_receipt_returned", "+40"),
            receiptHas(".o_loyalty_club_receipt_reversed", "-10"),
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
            NumberPopup.enterValue("20"),
            Dialog.confirm(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            // signed points and the masked number read left to right inside the RTL receipt
            receiptHas(".o_loyalty_club_receipt_redeemed span[dir='ltr']", "-40"),
            receiptHas(".o_loyalty_club_receipt_earned span[dir='ltr']", "+10"),
            receiptHas(".o_loyalty_club_receipt span[dir='ltr']", "•••• 0013"),
            receiptHas(".o_loyalty_club_receipt_balance", "70"),
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
