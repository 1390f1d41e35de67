import * as ProductScreen from "@point_of_sale/../tests/tours/utils/product_screen_util";
import * as PaymentScreen from "@point_of_sale/../tests/tours/utils/payment_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/tours/utils/receipt_screen_util";
import * as NumberPopup from "@point_of_sale/../tests/tours/utils/number_popup_util";
import * as TextInputPopup from "@point_of_sale/../tests/tours/utils/text_input_popup_util";
import * as Chrome from "@point_of_sale/../tests/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/tours/utils/dialog_util";
import {registry} from "@web/core/registry";

// A pre-printed card (inactive until sold) and its PIN, created by the test.
const CODE = "K7QM 3XPA 9TRW B2H1";

function receiptHas(selector, text) {
    return {content: `receipt shows ${text}`, trigger: `.pos-receipt ${selector}:contains("${text}")`};
}

function payWithGiftCard(code, pin) {
    return [
        PaymentScreen.clickPaymentMethod("Gift card"),
        TextInputPopup.inputText(code),
        Dialog.confirm("Apply"),
        NumberPopup.enterValue(pin),
        Dialog.confirm(),
    ];
}

registry.category("web_tour.tours").add("LoyaltyGiftCardPosTour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            // Sell the pre-printed card: scanned on the line, loaded when the order is paid.
            ProductScreen.clickDisplayedProduct("Gift card"),
            TextInputPopup.inputText(CODE.toLowerCase()),
            Dialog.confirm("Apply"),
            ProductScreen.selectedOrderlineHas("Gift card", "1", "50.00"),
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_gift_card_receipt_sold", "Gift card loaded"),
            ReceiptScreen.clickNextOrder(),
            // Pay another order partly with it: wrong PIN first, then 30.00 of its 50.00.
            ProductScreen.addOrderline("Club Shirt", "1"),
            ProductScreen.clickPayButton(),
            ...payWithGiftCard(CODE, "111111"),
            {content: "uniform PIN error", trigger: '.modal-body:contains("Unknown gift card, wrong PIN")'},
            Dialog.confirm(),
            ...payWithGiftCard(CODE, "864213"),
            NumberPopup.enterValue("30"),
            Dialog.confirm(),
            PaymentScreen.selectedPaymentlineHas("Gift card", "30.00"),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.remainingIs("0.00"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            receiptHas(".o_loyalty_gift_card_receipt_paid", "B2H1"),
            receiptHas(".o_loyalty_gift_card_receipt_balance", "20.00"),
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});
