from notify_delivery_sms.simulator.cli import main

if __name__ == "__main__":
    main()
